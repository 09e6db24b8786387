"""The IMAP conversation over a bare socket: states, errors, limits, search, flags and transcripts."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from mailtrap_lite.imap.session import LINE_LIMIT, MAX_LITERAL
from tests.imap.helpers import imap_address, imap_config, plain, send
from tests.imap.wire import Wire


@pytest.fixture
def server_config() -> Config:
    return imap_config()


def logged_in(server: MailServer, user: str = "default") -> Wire:
    wire = Wire(imap_address(server))
    assert wire.ask("l", f"LOGIN {user} x")[-1].startswith(b"l OK")
    return wire


def test_greeting_capabilities_and_unknown_or_misplaced_commands(server: MailServer) -> None:
    with Wire(imap_address(server)) as wire:
        assert wire.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
        caps = wire.ask("a", "CAPABILITY")
        assert b"IDLE" in caps[0] and b"AUTH=PLAIN" in caps[0] and b"STARTTLS" not in caps[0]
        assert wire.ask("b", "FROBNICATE")[-1].startswith(b"b BAD")
        assert wire.ask("c", "SELECT INBOX")[-1] == b"c BAD log in first\r\n"
        assert wire.ask("d", "FETCH 1 FLAGS")[-1].startswith(b"d BAD")
        assert wire.ask("e", "UID NOOP")[-1].startswith(b"e BAD")
        wire.send(b"(bad tag\r\n")
        assert wire.line().startswith(b"* BAD")
        assert wire.ask("f", "LOGIN default x")[-1].startswith(b"f OK")
        assert wire.ask("g", "LOGIN default x")[-1].startswith(b"g BAD")
        assert wire.ask("h", "FETCH 1 FLAGS")[-1] == b"h BAD no mailbox selected\r\n"
        assert wire.ask("i", "ID NIL")[0].startswith(b'* ID ("name" "mailtrap-lite"')
        assert wire.ask("j", "NAMESPACE")[0] == b'* NAMESPACE (("" "/")) NIL NIL\r\n'
        assert wire.ask("k", 'LIST "" ""')[0] == b'* LIST (\\Noselect) "/" ""\r\n'
        assert wire.ask("m", 'LIST "" "%"')[0] == b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
        assert wire.ask("n", 'LIST "" "Other"') == [b"n OK LIST completed\r\n"]
        assert wire.ask("o", "CREATE Other")[-1].startswith(b"o NO [CANNOT]")
        assert wire.ask("z", "LOGOUT")[0] == b"* BYE logging out\r\n"


def test_malformed_sequence_sets_and_numbers_beyond_the_mailbox_are_bad(server: MailServer) -> None:
    send(server, plain("one"))
    with logged_in(server) as wire:
        wire.ask("s", "SELECT INBOX")
        for text in ("0", "1:", "a", "1,,2", "4294967296"):
            assert wire.ask("f", f"FETCH {text} FLAGS")[-1].startswith(b"f BAD"), text
        assert wire.ask("g", "FETCH 2 FLAGS")[-1].startswith(b"g BAD")
        assert wire.ask("h", "UID FETCH 2:* FLAGS") == [
            b"* 1 FETCH (UID 1 FLAGS ())\r\n",
            b"h OK FETCH completed\r\n",
        ]
        assert wire.ask("i", "UID FETCH 5 FLAGS") == [b"i OK FETCH completed\r\n"]
        assert wire.ask("j", "FETCH 1 (BODY.PEEK[9])")[0] == b"* 1 FETCH (BODY[9] NIL)\r\n"


def test_a_literal_over_the_limit_is_refused_unread(server: MailServer) -> None:
    with Wire(imap_address(server)) as wire:
        wire.send(b"a LOGIN {%d}\r\n" % (MAX_LITERAL + 1))
        assert wire.line().startswith(b"a BAD literal of")
        assert wire.ask("b", "LOGIN {7}\r\ndefault x")[0] == b"+ Ready for literal data\r\n"
    with Wire(imap_address(server)) as wire:  # a non-synchronising one is on its way: the session ends
        wire.send(b"a LOGIN {%d+}\r\n" % (MAX_LITERAL + 1))
        assert wire.line().startswith(b"* BYE literal of")
        assert wire.closed()


def test_a_line_that_never_ends_gets_bye(server: MailServer) -> None:
    with Wire(imap_address(server)) as wire:
        wire.send(b"a NOOP " + b"x" * (LINE_LIMIT + 10))
        assert wire.line() == b"* BYE command line too long\r\n"
        assert wire.closed()


def test_authenticate_plain_with_and_without_an_initial_response(server: MailServer) -> None:
    secret = base64.b64encode(b"\0Robot\0pw").decode()
    with Wire(imap_address(server)) as wire:
        assert wire.ask("a", f"AUTHENTICATE PLAIN {secret}")[-1].startswith(b"a OK")
        assert wire.ask("b", "SELECT INBOX")[-1].startswith(b"b OK")
    with Wire(imap_address(server)) as wire:
        wire.send(b"a AUTHENTICATE PLAIN\r\n")
        assert wire.line() == b"+ \r\n"
        wire.send(secret.encode() + b"\r\n")
        assert wire.until_tagged("a")[-1].startswith(b"a OK [CAPABILITY")
    with Wire(imap_address(server)) as wire:
        wire.send(b"a AUTHENTICATE PLAIN\r\n")
        wire.line()
        wire.send(b"*\r\n")
        assert wire.until_tagged("a")[-1].startswith(b"a BAD")
        assert wire.ask("b", "AUTHENTICATE CRAM-MD5")[-1].startswith(b"b NO")


def test_search_criteria_and_their_combinations(server: MailServer) -> None:
    send(server, plain("Invoice 1", "Amount due: 10 EUR\r\n", to="billing@example.com"))
    send(server, plain("Hello", "How are you?\r\n"))
    send(server, plain("Invoice 2", "Amount due: 20 EUR\r\n"))
    with logged_in(server) as wire:
        wire.ask("s", "SELECT INBOX")
        wire.ask("t", "STORE 2 +FLAGS.SILENT (\\Seen)")

        def search(criteria: str) -> bytes:
            lines = wire.ask("q", f"SEARCH {criteria}")
            assert lines[-1].startswith(b"q OK"), lines
            return lines[0]

        assert search("ALL") == b"* SEARCH 1 2 3\r\n"
        assert search("SUBJECT invoice") == b"* SEARCH 1 3\r\n"
        assert search("TO billing") == b"* SEARCH 1\r\n"
        assert search('BODY "20 eur"') == b"* SEARCH 3\r\n"
        assert search("TEXT hello") == b"* SEARCH 2\r\n"
        assert search("FROM app@example.com SEEN") == b"* SEARCH 2\r\n"
        assert search("UNSEEN NOT SUBJECT invoice") == b"* SEARCH\r\n"
        assert search("OR SEEN TO billing") == b"* SEARCH 1 2\r\n"
        assert search("2:3 (OR SUBJECT hello BODY 10)") == b"* SEARCH 2\r\n"
        assert search("UID 2:*") == b"* SEARCH 2 3\r\n"
        assert search("SINCE 1-Jan-2000 BEFORE 1-Jan-2999") == b"* SEARCH 1 2 3\r\n"
        assert search("BEFORE 1-Jan-2000") == b"* SEARCH\r\n"
        assert search("HEADER Subject 2") == b"* SEARCH 3\r\n"
        assert search("CHARSET UTF-8 LARGER 1 SMALLER 100000 UNDELETED") == b"* SEARCH 1 2 3\r\n"
        assert wire.ask("u", "UID SEARCH SUBJECT invoice")[0] == b"* SEARCH 1 3\r\n"
        assert wire.ask("v", "SEARCH SINCE yesterday")[-1].startswith(b"v BAD")
        assert wire.ask("w", "SEARCH CHARSET KOI8-R ALL")[-1].startswith(b"w BAD")
        assert wire.ask("x", "SEARCH OR SEEN")[-1].startswith(b"x BAD")


def test_examine_is_read_only_and_close_expunges_silently(server: MailServer, api: httpx.Client) -> None:
    for subject in ("a", "b"):
        send(server, plain(subject))
    with logged_in(server) as wire:
        lines = wire.ask("e", "EXAMINE INBOX")
        assert lines[-1] == b"e OK [READ-ONLY] EXAMINE completed\r\n"
        assert wire.ask("f", "STORE 1 +FLAGS (\\Seen)")[-1].startswith(b"f NO [READ-ONLY]")
        wire.ask("g", "FETCH 1 BODY[]")  # not PEEK, but EXAMINE never sets \Seen
        assert [m["read"] for m in api.get("/api/messages").json()["messages"]] == [False, False]
        status = wire.ask("h", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT RECENT)")
        assert status[0] == b"* STATUS INBOX (MESSAGES 2 UNSEEN 2 UIDNEXT 3 RECENT 0)\r\n"
        lines = wire.ask("s", "SELECT INBOX")
        assert b"* 2 EXISTS\r\n" in lines and b"* OK [UNSEEN 1] first unseen\r\n" in lines
        fetched = wire.ask("i", "FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])")
        assert fetched[0] == b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {14}\r\n"  # and \Seen set by it
        assert wire.ask("j", "FETCH 1 FLAGS")[0] == b"* 1 FETCH (FLAGS (\\Seen))\r\n"
        assert wire.ask("k", "STORE 1 +FLAGS (\\Deleted)")[0] == b"* 1 FETCH (FLAGS (\\Seen \\Deleted))\r\n"
        assert wire.ask("l", "CLOSE") == [b"l OK CLOSE completed\r\n"]
        assert wire.ask("m", "FETCH 1 FLAGS")[-1].startswith(b"m BAD")
    assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["b"]


def test_new_and_deleted_messages_wait_for_a_point_where_numbers_may_change(
    server: MailServer, api: httpx.Client
) -> None:
    for subject in ("a", "b", "c"):
        send(server, plain(subject))
    with logged_in(server) as wire:
        wire.ask("s", "SELECT INBOX")
        ids = {m["subject"]: m["id"] for m in api.get("/api/messages").json()["messages"]}
        api.delete(f"/api/messages/{ids['a']}")
        send(server, plain("d"))
        api.patch(f"/api/messages/{ids['c']}", json={"read": True})
        fetched = wire.ask("f", "FETCH 1:3 (UID)")  # by sequence number: no EXPUNGE yet, but EXISTS
        assert b"* 1 EXPUNGE\r\n" not in fetched and b"* 4 EXISTS\r\n" in fetched
        assert b"* 3 FETCH (UID 3 FLAGS (\\Seen))\r\n" in fetched
        assert wire.ask("n", "NOOP") == [b"* 1 EXPUNGE\r\n", b"n OK NOOP completed\r\n"]
        assert wire.ask("g", "FETCH 1:* (UID)")[:3] == [
            b"* 1 FETCH (UID 2)\r\n",
            b"* 2 FETCH (UID 3)\r\n",
            b"* 3 FETCH (UID 4)\r\n",
        ]


def test_transcripts_mask_secrets_and_summarise_bodies(server: MailServer, api: httpx.Client) -> None:
    send(server, plain("secretive", "x" * 500 + "\r\n"))
    with Wire(imap_address(server)) as wire:
        wire.ask("a", "LOGIN default hunter2")
        wire.ask("b", "SELECT INBOX")
        wire.ask("c", "FETCH 1 BODY.PEEK[]")
        wire.ask("d", "LOGOUT")
    with Wire(imap_address(server)) as wire:
        wire.send(b"a AUTHENTICATE PLAIN\r\n")
        wire.line()
        wire.send(base64.b64encode(b"\0default\0swordfish") + b"\r\n")
        wire.until_tagged("a")
        wire.send(b"b LOGIN {7}\r\ndefault {9}\r\n")
        wire.line()
        wire.send(b"hunter222\r\n")
        wire.until_tagged("b")
    for _ in range(200):
        sessions = [s for s in api.get("/api/sessions").json()["sessions"] if s["protocol"] == "imap"]
        if len(sessions) == 2:
            break
        time.sleep(0.05)  # a session is saved just after its connection closes
    assert len(sessions) == 2
    texts = []
    for listed in sessions:
        found = api.get(f"/api/sessions/{listed['id']}").json()
        texts.append("\n".join(f"{line['dir']} {line['line']}" for line in found["transcript"]))
    everything = "\n".join(texts)
    assert "hunter2" not in everything and "swordfish" not in everything
    assert base64.b64encode(b"\0default\0swordfish").decode() not in everything
    assert "C a LOGIN default ****" in everything and "C a AUTHENTICATE PLAIN" in everything
    assert "C b LOGIN {7} ****" in everything  # a username sent as a literal shows as its size
    assert "x" * 100 not in everything and "<" in everything and "bytes>" in everything
