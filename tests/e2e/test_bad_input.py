"""Bad input gets a clear answer and loses nothing: malformed MIME, bare LF, long lines, oversize, corpus."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import CORPUS, free_config
from tests.e2e.helpers import crlf, reply_of, serving

CORPUS_FILES = sorted(CORPUS.glob("*.eml")) if CORPUS.is_dir() else []

MALFORMED = {
    "no-headers": b"just a body line without any header\r\n",
    "bad-charset": (
        b"Subject: =?x-unknown?B?SGVsbG8=?=\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\n"
        b"\xff\xfe caf\xe9\r\n"
    ),
    "missing-boundary": (
        b"Subject: broken multipart\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\n'
        b"body that never closes\r\n"
    ),
    "bad-base64": (
        b"Subject: bad b64\r\nContent-Type: application/pdf; name=x.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=x.pdf\r\n\r\n!!!not*base64###\r\n"
    ),
    "garbage-headers": b"Subject\r\n: \r\nFrom: <<<>>>\r\nTo: ,,,@@@\r\nDate: yesterday-ish\r\n\r\nbody\r\n",
    "binary": bytes(range(1, 256)).replace(b"\r", b"").replace(b"\n", b"") + b"\r\n",
}


@pytest.mark.skipif(not CORPUS_FILES, reason=f"the shared corpus is not at {CORPUS}")
def test_corpus_messages_are_listed_viewable_and_byte_identical(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    sent: dict[str, bytes] = {}
    for path in CORPUS_FILES:
        raw = crlf(path.read_bytes())
        code, text = reply_of(smtp_address, raw)
        assert code == 250, (path.name, code, text)
        sent[text.rsplit(b" ", 1)[1].decode()] = raw
    listing = api.get("/api/messages", params={"limit": 1000}).json()
    assert listing["total"] == len(CORPUS_FILES)
    for message_id, raw in sent.items():
        full = api.get(f"/api/messages/{message_id}")
        assert full.status_code == 200, message_id
        assert full.json()["size"] == len(raw)
        assert api.get(f"/api/messages/{message_id}/raw").content == raw
        assert api.get(f"/api/messages/{message_id}/session").status_code == 200


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_message_is_stored_raw_with_a_reason(
    name: str, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    raw = MALFORMED[name]
    code, text = reply_of(smtp_address, raw)
    assert code == 250
    message_id = text.rsplit(b" ", 1)[1].decode()
    full = api.get(f"/api/messages/{message_id}")
    assert full.status_code == 200
    assert full.json()["warnings"], "a malformed message shows why"
    assert api.get(f"/api/messages/{message_id}/raw").content == crlf(raw)


def raw_session(address: tuple[str, int], payload: bytes, read_until: bytes = b"\r\n") -> list[bytes]:
    """Speak SMTP with a plain socket; returns the reply lines after the payload."""
    with socket.create_connection(address, timeout=30) as sock:
        sock.recv(1024)
        sock.sendall(payload)
        received = b""
        while not received.endswith(read_until):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received.split(b"\r\n")


def test_long_lines_are_accepted_and_warned(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    raw = b"Subject: long\r\n\r\n" + b"x" * 5000 + b"\r\nshort\r\n"
    code, text = reply_of(smtp_address, raw)
    assert code == 250
    message_id = text.rsplit(b" ", 1)[1].decode()
    codes = {w["code"] for w in api.get(f"/api/messages/{message_id}").json()["warnings"]}
    assert "long-line" in codes
    assert api.get(f"/api/messages/{message_id}/raw").content == raw


def test_bare_lf_terminator_is_answered_not_hung(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    with socket.create_connection(smtp_address, timeout=30) as sock:
        sock.recv(1024)
        sock.sendall(b"HELO x\r\nMAIL FROM:<a@example.com>\r\n")
        _read_lines(sock, 2)
        sock.sendall(b"RCPT TO:<b@example.com>\r\n")
        _read_lines(sock, 1)
        sock.sendall(b"DATA\r\n")
        assert _read_lines(sock, 1)[0].startswith(b"354")
        sock.sendall(b"Subject: bare\n\nline one\nline two\n.\n")
        reply = _read_lines(sock, 1)[0]
        assert reply.startswith(b"550 5.6.11"), reply
        assert reply.isascii(), reply  # no SMTPUTF8 was asked for
        sock.sendall(b"QUIT\r\n")
        assert _read_lines(sock, 1)[0].startswith(b"221")
    assert api.get("/api/messages").json()["total"] == 0
    session = api.get("/api/sessions").json()["sessions"][0]
    assert any(line["line"].startswith("550 5.6.11") for line in session["transcript"])


def test_bare_lf_lines_with_proper_terminator_are_stored(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    with socket.create_connection(smtp_address, timeout=30) as sock:
        sock.recv(1024)
        sock.sendall(b"HELO x\r\n")
        _read_lines(sock, 1)
        sock.sendall(b"MAIL FROM:<a@example.com>\r\n")
        _read_lines(sock, 1)
        sock.sendall(b"RCPT TO:<b@example.com>\r\n")
        _read_lines(sock, 1)
        sock.sendall(b"DATA\r\n")
        _read_lines(sock, 1)
        sock.sendall(b"Subject: mixed\n\nbare\nlines\r\n..stuffed\r\n.\r\n")
        assert _read_lines(sock, 1)[0].startswith(b"250")
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    assert (
        api.get(f"/api/messages/{message_id}/raw").content == b"Subject: mixed\n\nbare\nlines\r\n.stuffed\r\n"
    )
    codes = {w["code"] for w in api.get(f"/api/messages/{message_id}").json()["warnings"]}
    assert "bare-lf" in codes


def _read_lines(sock: socket.socket, count: int) -> list[bytes]:
    data = b""
    while data.count(b"\r\n") < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n")[:count]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_commands_that_are_not_utf8_are_kept_readable(store: str, tmp_path: Path) -> None:
    # aiosmtpd decodes arguments with surrogateescape; a lone surrogate must reach neither store nor JSON.
    config = free_config(db=tmp_path / "mail.db") if store == "sqlite" else free_config()
    with serving(config) as server, httpx.Client(timeout=30) as api:
        assert server.addresses is not None
        api.base_url = httpx.URL(server.addresses.url)
        replies = raw_session(
            (server.addresses.smtp.host, server.addresses.smtp.port),
            b"EHLO h\xffst\r\nMAIL FROM:<s\xff\xfe@x.org> SMTPUTF8\r\nRCPT TO:<r\xed\xa0\x80@y.org>\r\n"
            b"DATA\r\nSubject: bytes\r\n\r\nbody\r\n.\r\nQUIT\r\n",
            read_until=b"221 2.0.0 Bye\r\n",
        )
        assert any(line.startswith(b"250 2.0.0 Ok: queued") for line in replies), replies
        message = api.get("/api/messages/latest").json()
        assert message["envelope"]["mail_from"] == "s\ufffd\ufffd@x.org"
        assert [r["address"] for r in message["envelope"]["recipients"]] == ["r\ufffd\ufffd\ufffd@y.org"]
        assert api.get("/api/messages").status_code == 200
        sessions = api.get("/api/sessions")
        assert sessions.status_code == 200
        assert sessions.json()["sessions"][0]["helo"] == "h\ufffdst"
