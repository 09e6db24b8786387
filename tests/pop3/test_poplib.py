"""Python's poplib against the real server on loopback: login, listing, RETR/TOP, DELE at QUIT, TLS."""

from __future__ import annotations

import base64
import poplib
import socket
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.ids import new_id
from mailtrap_lite.message import summarize
from mailtrap_lite.model import Envelope, Session, utcnow
from mailtrap_lite.pop3 import replies
from mailtrap_lite.store.memory import MemoryStore
from tests.e2e.helpers import send, serving, simple_message
from tests.pop3.conftest import client_context, connect, pop3_config, retrieved, with_attachment
from tests.web.test_ws import eventually, next_frame, ws_url


@pytest.mark.parametrize("how", ["plain", "stls", "ssl"])
def test_a_message_with_an_attachment_arrives_byte_identical(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client, how: str
) -> None:
    send(smtp_address, with_attachment().as_bytes())
    stored = api.get("/api/messages/latest/raw").content
    client = connect(server, how)
    client.user("default")
    assert client.pass_("anything").startswith(b"+OK default has 1 messages")
    assert client.stat() == (1, len(stored))
    response, lines, octets = client.retr(1)
    assert response == f"+OK {len(stored)} octets".encode()
    assert retrieved(lines) == stored
    assert octets >= len(stored)  # poplib counts the stuffed dots too
    client.quit()


def test_top_returns_the_headers_and_the_first_lines(
    server: MailServer, pop3: poplib.POP3, smtp_address: tuple[str, int]
) -> None:
    send(smtp_address, simple_message(body="one\ntwo\nthree\n").as_bytes())
    pop3.user("default")
    pop3.pass_("x")
    _, lines, _ = pop3.top(1, 2)
    assert lines[lines.index(b"") + 1 :] == [b"one", b"two"]
    assert b"Subject: Hello" in lines


def test_dele_takes_effect_at_quit_through_the_service(
    server: MailServer, pop3: poplib.POP3, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send(smtp_address, simple_message(subject="first").as_bytes())
    send(smtp_address, simple_message(subject="second").as_bytes())
    first = api.get("/api/messages").json()["messages"][1]
    with ws_connect(ws_url(server)) as events:
        pop3.user("default")
        pop3.pass_("x")
        assert pop3.dele(1) == b"+OK message 1 deleted"
        assert api.get("/api/messages").json()["total"] == 2  # nothing deleted before QUIT
        assert pop3.quit() == b"+OK mailtrap-lite POP3 signing off (1 messages deleted)"
        assert next_frame(events, "message.deleted")["data"]["ids"] == [first["id"]]
    remaining = api.get("/api/messages").json()["messages"]
    assert [m["subject"] for m in remaining] == ["second"]


def test_rset_and_a_vanished_client_delete_nothing(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send(smtp_address, simple_message().as_bytes())
    client = connect(server)
    client.user("default")
    client.pass_("x")
    client.dele(1)
    assert client.rset() == b"+OK maildrop has 1 messages (%d octets)" % client.stat()[1]
    client.dele(1)
    client.close()  # no QUIT: RFC 1939 §6, no UPDATE state
    eventually(lambda: not server.service.live_sessions)
    assert api.get("/api/messages").json()["total"] == 1
    session = api.get("/api/sessions").json()["sessions"][0]
    assert session["protocol"] == "pop3" and session["error"] == "client disconnected without QUIT"


def test_the_maildrop_is_a_snapshot_at_login(
    server: MailServer, pop3: poplib.POP3, smtp_address: tuple[str, int]
) -> None:
    send(smtp_address, simple_message().as_bytes())
    pop3.user("default")
    pop3.pass_("x")
    send(smtp_address, simple_message(subject="later").as_bytes())
    assert pop3.stat()[0] == 1
    assert len(pop3.list()[1]) == 1


def test_a_message_deleted_elsewhere_after_login_is_an_error(
    server: MailServer, pop3: poplib.POP3, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send(smtp_address, simple_message().as_bytes())
    pop3.user("default")
    pop3.pass_("x")
    assert api.delete("/api/messages/latest").status_code == 204
    with pytest.raises(poplib.error_proto, match="deleted since login"):
        pop3.retr(1)
    pop3.dele(1)
    assert pop3.quit().startswith(b"+OK")  # already gone counts as removed


def store_in(server: MailServer, mailbox: str, subject: str) -> str:
    """Store a message in a mailbox directly in the (memory) store, as mailbox routing will."""
    raw = f"From: app@example.com\r\nTo: x@example.com\r\nSubject: {subject}\r\n\r\nHi.\r\n".encode()
    message_id = new_id()
    session = Session(id=new_id(), peer="127.0.0.1:1", started_at=utcnow())
    stored = summarize(
        raw,
        message_id=message_id,
        session_id=session.id,
        mailbox=mailbox,
        received_at=utcnow(),
        envelope=Envelope("app@example.com"),
    )
    assert isinstance(server.store, MemoryStore)
    server.call(server.store.add(stored, session))
    return message_id


def test_the_username_names_the_mailbox(server: MailServer, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, simple_message(subject="for default").as_bytes())
    ann = store_in(server, "ann", "for ann")
    client = connect(server)
    client.user("Ann")  # mailbox names are case-insensitive
    assert client.pass_("x").startswith(b"+OK ann has 1 messages")
    assert client.uidl()[1] == [f"1 {ann}".encode()]
    client.quit()
    client = connect(server)
    client.user("default")
    client.pass_("x")
    _, lines, _ = client.retr(1)
    assert b"Subject: for default" in lines
    client.quit()
    client = connect(server)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] no mailbox"):
        client.user("ann@example.com")
    client.quit()


def test_uidl_is_stable_across_sessions_and_restarts(tmp_path: Path) -> None:
    config = pop3_config(db=tmp_path / "mail.db")
    with serving(config) as first:
        assert first.addresses is not None
        send((first.addresses.smtp.host, first.addresses.smtp.port), simple_message().as_bytes())
        client = connect(first)
        client.user("default")
        client.pass_("x")
        before = client.uidl()[1]
        client.quit()
        client = connect(first)
        client.user("default")
        client.pass_("x")
        assert client.uidl()[1] == before
        client.quit()
    with serving(config) as second:
        client = connect(second)
        client.user("default")
        client.pass_("x")
        assert client.uidl()[1] == before
        assert client.uidl(1) == b"+OK " + before[0]
        client.quit()


def test_auth_file_checks_passwords_and_secrets_stay_out_of_the_transcript(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("ann:s3cret pass\n")
    with serving(pop3_config(auth_file=users)) as server:
        assert server.addresses is not None
        store_in(server, "ann", "hello")
        client = connect(server)
        client.user("ann")
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] invalid username or password"):
            client.pass_("wrong-guess")
        client.user("ann")
        assert client.pass_("s3cret pass").startswith(b"+OK ann has 1 messages")
        client.quit()
        plain = base64.b64encode(b"\0ann\0s3cret pass").decode()
        with socket.create_connection((server.addresses.pop3.host, server.addresses.pop3.port)) as raw:  # type: ignore[union-attr]
            stream = raw.makefile("rwb")
            stream.readline()
            stream.write(b"AUTH PLAIN\r\n")
            stream.flush()
            assert stream.readline() == b"+ \r\n"
            stream.write(plain.encode() + b"\r\nQUIT\r\n")
            stream.flush()
            assert stream.readline().startswith(b"+OK ann has 1 messages")
            assert stream.readline().startswith(b"+OK")
        eventually(lambda: not server.service.live_sessions)
        with httpx.Client(base_url=server.addresses.url) as api:
            sessions = api.get("/api/sessions").json()["sessions"]
    text = repr(sessions)
    assert "s3cret" not in text and "wrong-guess" not in text and plain not in text
    logins = [s["auth"] for s in sessions if s["protocol"] == "pop3"]
    assert {"mechanism": "PLAIN", "username": "ann"} in logins
    assert {"mechanism": "USER", "username": "ann"} in logins


def test_require_tls_refuses_login_before_stls() -> None:
    with serving(pop3_config(require_tls=True)) as server:
        client = connect(server)
        assert "USER" not in client.capa()
        with pytest.raises(poplib.error_proto, match="requires STLS"):
            client.user("default")
        client.stls(client_context(server))
        client.user("default")
        assert client.pass_("x").startswith(b"+OK")
        client.quit()
        secure = connect(server, "ssl")
        secure.user("default")
        assert secure.pass_("x").startswith(b"+OK")
        secure.quit()


def test_the_session_transcript_shows_the_conversation(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send(smtp_address, with_attachment(size=1000).as_bytes())
    client = connect(server, "stls")
    client.user("default")
    client.pass_("password-123")
    client.retr(1)
    client.quit()
    eventually(lambda: not server.service.live_sessions)
    session = api.get("/api/sessions").json()["sessions"][0]
    assert session["protocol"] == "pop3"
    assert session["tls"] is not None and session["auth"] == {"mechanism": "USER", "username": "default"}
    lines = [(line["dir"], line["line"]) for line in session["transcript"]]
    assert ("C", "PASS ****") in lines and "password-123" not in repr(lines)
    assert ("C", "RETR 1") in lines
    size = api.get("/api/messages/latest").json()["size"]
    assert ("S", f"<message 1: {size} bytes>") in lines
    assert not any("hidden line" in text for _, text in lines)
    assert lines[-1] == ("S", replies.BYE.format(host="mailtrap-lite"))


def test_a_never_ending_line_is_refused_and_the_connection_closed(
    server: MailServer, api: httpx.Client
) -> None:
    assert server.addresses is not None and server.addresses.pop3 is not None
    with socket.create_connection((server.addresses.pop3.host, server.addresses.pop3.port)) as raw:
        stream = raw.makefile("rb")
        stream.readline()
        try:
            for _ in range(100):
                raw.sendall(b"x" * 1024)
        except OSError:
            pass  # the server may hang up while we still send
        assert stream.readline() == replies.LINE_TOO_LONG.encode() + b"\r\n"
        assert stream.readline() == b""
    eventually(lambda: not server.service.live_sessions)
    assert api.get("/api/sessions").json()["sessions"][0]["error"] == "line too long"


def test_clients_that_vanish_leave_no_live_session(server: MailServer, api: httpx.Client) -> None:
    assert server.addresses is not None and server.addresses.pop3s is not None
    for _ in range(5):
        with socket.create_connection((server.addresses.pop3.host, server.addresses.pop3.port)) as raw:  # type: ignore[union-attr]
            raw.sendall(b"USER default\r\nPASS x\r\nSTAT\r\nRETR")
        with socket.create_connection((server.addresses.pop3s.host, server.addresses.pop3s.port)):
            pass  # gone before the TLS handshake: no session begins
    eventually(lambda: not server.service.live_sessions)
    eventually(lambda: api.get("/api/sessions").json()["total"] == 5)
    sessions = api.get("/api/sessions").json()["sessions"]
    assert {s["error"] for s in sessions} == {"client disconnected without QUIT"}
    assert api.get("/api/stats").json()["open_sessions"] == 0


def test_stopping_the_server_tells_an_open_session_and_saves_it(tmp_path: Path) -> None:
    config = pop3_config(db=tmp_path / "mail.db")
    server = MailServer(config)
    addresses = server.start()
    send((addresses.smtp.host, addresses.smtp.port), simple_message().as_bytes())
    client = connect(server)
    client.user("default")
    client.pass_("x")
    client.dele(1)
    server.stop()
    assert client.file.readline() == replies.SHUTTING_DOWN.encode() + b"\r\n"  # RFC 2449 §8.1.2
    client.close()
    with serving(config) as again, httpx.Client(base_url=again.addresses.url) as api:  # type: ignore[union-attr]
        assert api.get("/api/messages").json()["total"] == 1  # no QUIT, no UPDATE: nothing deleted
        session = api.get("/api/sessions").json()["sessions"][0]
        assert session["protocol"] == "pop3" and session["error"] == "server shutting down"


def test_plaintext_sent_with_stls_is_dropped(server: MailServer, api: httpx.Client) -> None:
    assert server.addresses is not None and server.addresses.pop3 is not None
    address = server.addresses.pop3
    with socket.create_connection((address.host, address.port), timeout=30) as raw:
        greeting = raw.makefile("rb")
        greeting.readline()
        raw.sendall(b"STLS\r\nUSER injected\r\n")
        assert greeting.readline() == replies.STLS_GO.encode() + b"\r\n"
        with client_context(server).wrap_socket(raw, server_hostname="localhost") as secure:
            stream = secure.makefile("rwb")
            stream.write(b"PASS x\r\nQUIT\r\n")
            stream.flush()
            assert stream.readline() == replies.PASS_WITHOUT_USER.encode() + b"\r\n"  # USER never arrived
            assert stream.readline().startswith(b"+OK")
    eventually(lambda: not server.service.live_sessions)
    lines = [line["line"] for line in api.get("/api/sessions").json()["sessions"][0]["transcript"]]
    assert "USER injected" not in lines and "PASS ****" in lines


def test_a_reader_that_stalls_mid_retr_holds_up_nobody(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send(smtp_address, with_attachment(size=8_000_000).as_bytes())
    stored = api.get("/api/messages/latest/raw").content
    stalled = connect(server)
    stalled.user("default")
    stalled.pass_("x")
    stalled.sock.sendall(b"RETR 1\r\n")  # and reads nothing for now: the server must wait on it, not block
    other = connect(server)
    other.user("default")
    other.pass_("x")
    assert other.stat() == (1, len(stored))
    other.quit()
    assert api.get("/livez").status_code == 200
    assert stalled.file.readline() == f"+OK {len(stored)} octets\r\n".encode()
    lines = []
    while (line := stalled.file.readline()) != b".\r\n":
        lines.append(line[1:] if line.startswith(b"..") else line)
    assert b"".join(lines) == stored
    stalled.quit()


def test_an_idle_session_is_logged_out(server: MailServer, api: httpx.Client) -> None:
    server.pop3.idle_timeout = 0.5  # RFC 1939's ten minutes, shortened for the test
    client = connect(server)
    client.user("default")
    assert client.file.readline() == replies.IDLE.encode() + b"\r\n"
    client.close()
    eventually(lambda: not server.service.live_sessions)
    assert api.get("/api/sessions").json()["sessions"][0]["error"] == "idle timeout"
