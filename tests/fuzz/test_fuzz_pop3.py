"""The POP3 pieces under any input: the state machine, the line buffer, the stuffer, and the live server."""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import HostPort
from mailtrap_lite.pop3.machine import MASK, Fetch, Login, Machine, Reply, StartTLS, State, Update
from mailtrap_lite.pop3.maildrop import Entry
from mailtrap_lite.pop3.wire import LineBuffer, Stuffer
from tests.conftest import free_config
from tests.fuzz.budget import examples
from tests.fuzz.chunks import chunked
from tests.web.test_ws import eventually

_WORDS = [b"USER", b"PASS", b"AUTH", b"PLAIN", b"STAT", b"LIST", b"UIDL", b"RETR", b"TOP", b"DELE", b"RSET"]
_WORDS += [b"NOOP", b"QUIT", b"CAPA", b"STLS", b"user", b"1", b"2", b"0", b"-1", b"99", b"ann", b"=", b"*"]
_WORDS += [b"AGFubgB4", b"\xff", b"\xb2", b" ", b"  ", b"\t", b"\x00", b"a" * 80]
_LINE = st.lists(st.sampled_from(_WORDS), max_size=5).map(b" ".join) | st.binary(max_size=40).map(
    lambda raw: raw.replace(b"\n", b"")
)
_DROP = st.lists(st.integers(0, 10_000), max_size=6).map(
    lambda sizes: tuple(Entry(f"01id{n:04d}", size) for n, size in enumerate(sizes))
)
_STATUS = re.compile(r"\+OK( .*)?|-ERR .+|\+ ")


@examples(400)
@given(st.lists(_LINE, max_size=25), _DROP, st.booleans(), st.booleans(), st.randoms(use_true_random=False))
def test_the_machine_answers_every_line(
    lines: list[bytes], drop: tuple[Entry, ...], tls: bool, require_tls: bool, chance: random.Random
) -> None:
    pop = Machine(hostname="h", tls_available=tls, tls_active=False, require_tls=require_tls and tls)
    for line in lines:
        if pop.state is State.UPDATE:
            break
        logged = pop.loggable(line)
        action = pop.receive(line)
        if line.upper().startswith(b"PASS ") and len(line) > 5:
            assert logged.endswith(MASK)
        if isinstance(action, Reply):
            assert _STATUS.fullmatch(action.status), action.status
            assert all(not text.startswith(".") and "\r" not in text for text in action.lines or ())
            assert not action.close or pop.state is State.AUTHORIZATION
            if action.close:
                break
        elif isinstance(action, Login):
            assert pop.state is State.AUTHORIZATION and action.mailbox == action.mailbox.lower()
            if chance.random() < 0.7:
                assert pop.logged_in(action.mailbox, drop).status.startswith("+OK")
            else:
                assert pop.login_failed().status.startswith("-ERR")
        elif isinstance(action, Fetch):
            assert pop.state is State.TRANSACTION and drop[action.number - 1] == action.entry
        elif isinstance(action, StartTLS):
            assert tls and pop.state is State.AUTHORIZATION
            pop.tls_started()
        else:
            assert isinstance(action, Update) and pop.state is State.UPDATE
            assert set(action.ids) <= {entry.id for entry in drop}


_PIECES = [b"\r\n", b"\n", b"\r", b".", b"..", b"a", b"\xff", b"x" * 30]
_WIRE = st.lists(st.sampled_from(_PIECES), max_size=60).map(b"".join)


@examples(300)
@given(st.data(), _WIRE)
def test_lines_are_the_same_in_any_chunking(data: st.DataObject, stream: bytes) -> None:
    whole = LineBuffer(max_line=64)
    expected = whole.feed(stream)
    pieces = LineBuffer(max_line=64)
    got = [line for piece in data.draw(chunked(stream)) for line in pieces.feed(piece)]
    if not whole.overflowed and not pieces.overflowed:
        assert got == expected
    assert all(len(line) <= 64 for line in got)


def unstuffed(response: bytes) -> bytes:
    """What a client makes of a multi-line response: lines up to ".", each leading dot pair made one."""
    assert response.endswith(b"\r\n.\r\n") or response == b".\r\n"
    lines = response.split(b"\r\n")[:-2]
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)


@examples(300)
@given(st.data(), _WIRE)
def test_stuffing_any_chunking_round_trips(data: st.DataObject, message: bytes) -> None:
    stuffer = Stuffer()
    response = b"".join(stuffer.feed(piece) for piece in data.draw(chunked(message))) + stuffer.end()
    assert b"\r\n.\r\n" not in response[:-3]  # the terminator comes only at the end
    normalised = re.sub(rb"\r?\n", b"\r\n", message)
    if normalised and not normalised.endswith(b"\r\n"):
        normalised += b"\n" if normalised.endswith(b"\r") else b"\r\n"
    assert unstuffed(response) == normalised


@pytest.fixture(scope="module")
def pop3_server() -> Iterator[MailServer]:
    server = MailServer(free_config(pop3=HostPort("127.0.0.1", 0)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@examples(60)
@given(st.lists(_LINE, max_size=12))
def test_the_server_answers_or_closes_and_leaves_nothing(pop3_server: MailServer, lines: list[bytes]) -> None:
    assert pop3_server.addresses is not None and pop3_server.addresses.pop3 is not None
    address = pop3_server.addresses.pop3
    with socket.create_connection((address.host, address.port), timeout=30) as raw:
        stream = raw.makefile("rb")
        assert stream.readline().startswith(b"+OK")
        raw.sendall(b"".join(line + b"\r\n" for line in lines))
        raw.shutdown(socket.SHUT_WR)
        answer = stream.read()
    for line in answer.split(b"\r\n"):
        assert line[:1] in (b"", b"+", b"-", b".") or line[:1].isalnum(), line
    eventually(lambda: not pop3_server.service.live_sessions)
