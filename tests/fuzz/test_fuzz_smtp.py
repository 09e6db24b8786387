"""A real server and raw sockets: random command lines, random DATA, random chunking.

Every reply line is a valid reply, every command is answered, the server keeps serving, a message
answered 250 is stored with exactly the bytes sent (after un-dot-stuffing), and no AUTH secret reaches
a transcript.
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.app import MailServer
from tests.fuzz.budget import examples
from tests.fuzz.chunks import chunked
from tests.fuzz.mime_trees import messages
from tests.fuzz.wire import Closed, Wire

_names = itertools.count()


@pytest.fixture(scope="module")
def smtp(server: MailServer) -> tuple[str, int]:
    assert server.addresses is not None
    return server.addresses.smtp.host, server.addresses.smtp.port


@pytest.fixture(scope="module")
def api(server: MailServer) -> Iterator[httpx.Client]:
    assert server.addresses is not None
    with httpx.Client(base_url=server.addresses.url, timeout=30) as client:
        yield client


def still_serving(smtp: tuple[str, int]) -> None:
    with Wire(smtp) as wire:
        assert wire.reply()[0] == 220
        assert wire.command(b"NOOP")[0] == 250
        assert wire.command(b"QUIT")[0] == 221


# ---- random command lines -------------------------------------------------------------------------------

_VERBS = st.sampled_from(
    [b"HELO", b"EHLO", b"ehlo", b"MAIL", b"MAIL FROM:", b"RCPT", b"RCPT TO:", b"DATA", b"RSET", b"NOOP",
     b"VRFY", b"EXPN", b"HELP", b"AUTH", b"AUTH PLAIN", b"AUTH LOGIN", b"AUTH CRAM-MD5", b"STARTTLS",
     b"BDAT", b"QUIT", b"", b"\x00", b"\xff\xfe", b"M\xc3\xa4IL", b"X" * 20]
)  # fmt: skip
_ARG_PIECES = st.sampled_from(
    [b" ", b"<a@b.example>", b"<>", b"<j\xc3\xb6s\xc3\xa9@ex\xc3\xa4mple.com>", b" SIZE=99999999999",
     b" BODY=8BITMIME", b" SMTPUTF8", b" BODY=BINARYMIME", b"<@route:a@b>", b"\x00", b"\xff", b":", b"=",
     b"dGVzdAB0ZXN0AHRlc3Q=", b"<a@b", b"\t", b"%"]
)  # fmt: skip
_ARGS = st.lists(_ARG_PIECES | st.binary(max_size=20), max_size=6).map(b"".join)
_REPEAT = st.sampled_from([1, 1, 1, 1, 40, 300, 3000])
_LINES = (
    st.tuples(_VERBS, _ARGS, _REPEAT)
    .map(lambda t: (t[0] + t[1] * t[2]).replace(b"\r", b"").replace(b"\n", b""))
    # A bare HELO/EHLO is a known bug with its own test below (test_helo_without_a_name).
    .filter(lambda line: line.upper().rstrip(b" ") not in (b"HELO", b"EHLO") or line.endswith(b"  "))
)


def converse(wire: Wire, lines: list[bytes]) -> None:
    """Send each line and read its reply; finish what a reply starts (354 data, 334 challenges)."""
    for line in lines:
        code, _text = wire.command(line)
        if code == 354:
            code, _text = wire.command(b".")
        while code == 334:
            code, _text = wire.command(b"*")  # RFC 4954 §4: cancels the exchange
        if code == 221 or code == 421:
            with pytest.raises(Closed):
                wire.reply()
            return


@examples(120)
@given(st.lists(_LINES, max_size=8))
def test_random_command_lines(smtp: tuple[str, int], lines: list[bytes]) -> None:
    with Wire(smtp) as wire:
        assert wire.reply()[0] == 220
        converse(wire, [b"EHLO fuzz.example", *lines, b"QUIT"])
    still_serving(smtp)


@examples(40)
@given(st.data(), st.lists(_LINES, min_size=1, max_size=6))
def test_pipelined_command_lines_in_random_pieces(
    smtp: tuple[str, int], data: st.DataObject, lines: list[bytes]
) -> None:
    """Commands arriving together and split anywhere: one reply per line, each well-formed."""
    lines = [line for line in lines if not re.match(rb"(?i)(data|auth|quit|starttls)", line)]
    stream = b"".join(line + b"\r\n" for line in [b"EHLO fuzz.example", *lines])
    with Wire(smtp) as wire:
        assert wire.reply()[0] == 220
        for piece in data.draw(chunked(stream)):
            wire.send(piece)
        for _ in range(len(lines) + 1):
            wire.reply()
        assert wire.command(b"NOOP")[0] == 250
    still_serving(smtp)


# ---- random DATA ----------------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [b"\r\n", b"\n", b"\r", b".", b"..", b"\r\n.", b"\n.\n", b"\r\n..\r\n", b"\r\n.\r", b"\xe9", b"\x00",
     b"Subject: x", b"From: a@b", b"\xf0\x9f\x92\xa9", b" ", b"-- \r\n", b"=\r\n"]
)  # fmt: skip
_CONTENT = st.one_of(
    st.lists(_FRAGMENTS | st.binary(max_size=30), max_size=40).map(b"".join),
    messages(),
    st.binary(max_size=2000),
)


def stuffed(message: bytes) -> bytes:
    """The wire form of a message (RFC 5321 §4.5.2): a "." starting a line is doubled."""
    return (b"\r\n" + message).replace(b"\r\n.", b"\r\n..")[2:]


def deliver(wire: Wire, pieces: list[bytes], mail_options: bytes = b"") -> tuple[int, bytes]:
    assert wire.reply()[0] == 220
    assert wire.command(b"EHLO fuzz.example")[0] == 250
    assert wire.command(b"MAIL FROM:<app@example.com>" + mail_options)[0] == 250
    assert wire.command(b"RCPT TO:<ann@example.com>")[0] == 250
    assert wire.command(b"DATA")[0] == 354
    for piece in pieces:
        wire.send(piece)
    return wire.reply()


@examples(80)
@given(st.data(), _CONTENT, st.sampled_from([b"", b" BODY=8BITMIME", b" SMTPUTF8"]))
def test_a_message_is_stored_as_sent(
    smtp: tuple[str, int], api: httpx.Client, data: st.DataObject, content: bytes, options: bytes
) -> None:
    message = content if content.endswith(b"\r\n") else content + b"\r\n"  # never empty: see below
    pieces = data.draw(chunked(stuffed(message) + b".\r\n"))
    with Wire(smtp) as wire:
        code, text = deliver(wire, pieces, options)
        assert code == 250, text
        queued = re.fullmatch(rb"2\.0\.0 Ok: queued as (\S+)", text)
        assert queued, text
        assert wire.command(b"QUIT")[0] == 221
    response = api.get(f"/api/messages/{queued[1].decode()}/raw")
    assert response.status_code == 200
    assert response.content == message
    summary = api.get(f"/api/messages/{queued[1].decode()}")
    assert summary.status_code == 200
    assert summary.json()["size"] == len(message)


@pytest.mark.parametrize("verb", [b"HELO", b"EHLO", b"helo ", b"EHLO "])
def test_helo_without_a_name(smtp: tuple[str, int], verb: bytes) -> None:
    with Wire(smtp) as wire:
        assert wire.reply()[0] == 220
        assert wire.command(verb)[0] == 501


def test_an_empty_message_is_answered(smtp: tuple[str, int]) -> None:
    with Wire(smtp, timeout=10) as wire:
        code, _text = deliver(wire, [b".\r\n"])
        assert code == 250


# ---- AUTH secrets ---------------------------------------------------------------------------------------

_SECRETS = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789!$%&()*+,-./:;=?@[]^_{|}~ ", min_size=8, max_size=40
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _session_of(api: httpx.Client, helo: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        sessions = api.get("/api/sessions", params={"limit": 1000}).json()["sessions"]
        found: list[dict[str, Any]] = [s for s in sessions if s["helo"] == helo and s["ended_at"]]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no ended session for {helo}"
        time.sleep(0.02)


@examples(40)
@given(_SECRETS, _SECRETS, st.sampled_from(["PLAIN", "PLAIN-initial", "LOGIN", "LOGIN-initial"]))
def test_auth_secrets_stay_out_of_the_transcript(
    smtp: tuple[str, int], api: httpx.Client, user: str, password: str, how: str
) -> None:
    helo = f"auth{next(_names)}.fuzz.example"
    secret = "Zq" + password
    plain = b64(f"\0{user}\0{secret}")
    with Wire(smtp) as wire:
        assert wire.reply()[0] == 220
        assert wire.command(f"EHLO {helo}".encode())[0] == 250
        if how == "PLAIN-initial":
            code = wire.command(f"AUTH PLAIN {plain}".encode())[0]
        elif how == "PLAIN":
            assert wire.command(b"AUTH PLAIN")[0] == 334
            code = wire.command(plain.encode())[0]
        elif how == "LOGIN-initial":
            assert wire.command(f"AUTH LOGIN {b64(user)}".encode())[0] == 334
            code = wire.command(b64(secret).encode())[0]
        else:
            assert wire.command(b"AUTH LOGIN")[0] == 334
            assert wire.command(b64(user).encode())[0] == 334
            code = wire.command(b64(secret).encode())[0]
        assert code == 235
        assert wire.command(b"QUIT")[0] == 221
    session = _session_of(api, helo)
    text = "\n".join(line["line"] for line in session["transcript"])
    for needle in (secret, b64(secret), plain):
        assert needle not in text
    assert "****" in text
    assert session["auth"]["username"] == user
