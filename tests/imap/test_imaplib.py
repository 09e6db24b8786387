"""Python's imaplib against the server on loopback: login, select, fetch, flags, expunge, IDLE."""

from __future__ import annotations

import base64
import imaplib
import socket
import time

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.imap.helpers import PDF, imap_address, imap_config, plain, send, with_attachment


@pytest.fixture
def server_config() -> Config:
    return imap_config()


def connect(server: MailServer, user: str = "default") -> imaplib.IMAP4:
    client = imaplib.IMAP4(*imap_address(server), timeout=30)
    client.login(user, "anything")
    return client


def test_login_select_and_fetch_a_message_with_an_attachment_byte_identical(server: MailServer) -> None:
    raw = with_attachment()
    send(server, raw)
    client = connect(server)
    try:
        typ, data = client.select("INBOX")
        assert typ == "OK" and data == [b"1"]
        typ, data = client.fetch("1", "(BODY.PEEK[] FLAGS UID RFC822.SIZE)")
        assert typ == "OK"
        header, body = data[0]  # type: ignore[misc]
        assert header == b"1 (BODY[] {%d}" % len(raw) and body == raw
        assert data[1] == f" FLAGS () UID 1 RFC822.SIZE {len(raw)})".encode()
        typ, data = client.fetch("1", "(BODY.PEEK[2])")  # the PDF, base64 as sent
        assert base64.b64decode(data[0][1]) == PDF  # type: ignore[index]
        typ, data = client.fetch("1", "(FLAGS)")
        assert data == [b"1 (FLAGS ())"]  # PEEK left it unread
    finally:
        client.logout()


def test_store_seen_shows_in_the_api_and_expunge_deletes(server: MailServer, api: httpx.Client) -> None:
    send(server, plain("first"))
    send(server, plain("second"))
    client = connect(server)
    try:
        client.select("INBOX")
        typ, data = client.store("1", "+FLAGS", "(\\Seen)")
        assert typ == "OK" and b"\\Seen" in data[0]  # type: ignore[operator]
        messages = api.get("/api/messages").json()["messages"]
        by_subject = {m["subject"]: m for m in messages}
        assert by_subject["first"]["read"] is True and by_subject["second"]["read"] is False
        typ, data = client.search(None, "UNSEEN")
        assert data == [b"2"]
        client.store("2", "+FLAGS", "(\\Deleted)")
        typ, data = client.expunge()
        assert typ == "OK" and data == [b"2"]
        assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["first"]
    finally:
        client.logout()


def test_idle_announces_a_new_smtp_message_at_once(server: MailServer) -> None:
    send(server, plain("before"))
    client = connect(server)
    try:
        client.select("INBOX")
        tag = client._new_tag().decode()  # imaplib has no IDLE before Python 3.14: speak it by hand
        client.send(f"{tag} IDLE\r\n".encode())
        assert client.readline().startswith(b"+")
        send(server, plain("during"))
        assert client.readline() == b"* 2 EXISTS\r\n"
        client.send(b"DONE\r\n")
        assert client.readline().startswith(f"{tag} OK".encode())
        _, data = client.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1] == b"Subject: during\r\n\r\n"  # type: ignore[index]
    finally:
        client.logout()


def test_deletion_through_the_api_is_an_expunge_for_a_selected_client(
    server: MailServer, api: httpx.Client
) -> None:
    for subject in ("one", "two", "three"):
        send(server, plain(subject))
    client = connect(server)
    try:
        client.select("INBOX")
        ids = {m["subject"]: m["id"] for m in api.get("/api/messages").json()["messages"]}
        assert api.delete(f"/api/messages/{ids['two']}").status_code in (200, 204)
        assert client.noop()[0] == "OK"
        assert client.untagged_responses.get("EXPUNGE") == [b"2"]
        _, data = client.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1] == b"Subject: three\r\n\r\n"  # type: ignore[index]
    finally:
        client.logout()


def test_the_username_names_the_mailbox(server: MailServer) -> None:
    send(server, plain("for default"))
    client = connect(server, "Someone-Else")
    try:
        assert client.select("INBOX") == ("OK", [b"0"])
        _, data = client.list()
        assert data == [b'(\\HasNoChildren) "/" INBOX']
        assert client.select("Other")[0] == "NO"
    finally:
        client.logout()


def test_a_vanished_client_leaves_no_session_open(server: MailServer, api: httpx.Client) -> None:
    with socket.create_connection(imap_address(server), timeout=30) as raw:
        raw.recv(1000)
        raw.sendall(b"a LOGIN default x\r\nb SELECT INBOX\r\n")
        seen = b""
        while b"b OK" not in seen:
            seen += raw.recv(4096)
    for _ in range(200):  # the server notices the closed socket on its next read
        stats = api.get("/api/stats").json()
        if stats["open_sessions"] == 0 and stats["subscribers"] == 0:
            break
        time.sleep(0.05)
    assert stats["open_sessions"] == 0 and stats["subscribers"] == 0
