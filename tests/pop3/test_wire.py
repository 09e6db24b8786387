"""Command lines in, dot-stuffed messages out, and TOP, without sockets."""

from __future__ import annotations

from mailtrap_lite.pop3.wire import LineBuffer, Stuffer, top


def test_lines_are_cut_at_crlf_or_lf_across_chunks() -> None:
    lines = LineBuffer(max_line=100)
    assert lines.feed(b"US") == []
    assert lines.feed(b"ER ann\r\nPASS x\nST") == [b"USER ann", b"PASS x"]
    assert lines.feed(b"AT\r") == []
    assert lines.feed(b"\n") == [b"STAT"]
    assert not lines.overflowed


def test_a_never_ending_line_overflows_and_holds_little() -> None:
    lines = LineBuffer(max_line=100)
    for _ in range(50):
        assert lines.feed(b"x" * 60) == []
    assert lines.overflowed
    assert lines.discard() <= 160


def test_a_long_line_in_one_chunk_overflows_after_the_lines_before_it() -> None:
    lines = LineBuffer(max_line=10)
    assert lines.feed(b"NOOP\r\n" + b"y" * 20 + b"\r\nQUIT\r\n") == [b"NOOP"]
    assert lines.overflowed
    assert lines.feed(b"QUIT\r\n") == []


def stuffed(*pieces: bytes) -> bytes:
    stuffer = Stuffer()
    return b"".join(stuffer.feed(piece) for piece in pieces) + stuffer.end()


def test_stuffing_doubles_leading_dots_and_terminates() -> None:
    assert stuffed(b".a\r\nb\r\n..c\r\n.\r\n") == b"..a\r\nb\r\n...c\r\n..\r\n.\r\n"
    assert stuffed(b"no final newline") == b"no final newline\r\n.\r\n"
    assert stuffed(b"") == b".\r\n"


def test_stuffing_makes_bare_lf_crlf() -> None:
    assert stuffed(b"a\n.b\nc") == b"a\r\n..b\r\nc\r\n.\r\n"


def test_stuffing_across_piece_boundaries_equals_stuffing_at_once() -> None:
    message = b"x\r\n.y\r\n\r\n.\r\nz\n.w\r"
    whole = stuffed(message)
    for cut in range(len(message) + 1):
        for second in range(cut, len(message) + 1):
            assert stuffed(message[:cut], message[cut:second], message[second:]) == whole


def test_top_takes_the_headers_and_some_body_lines() -> None:
    raw = b"Subject: a\r\nFrom: b\r\n\r\none\r\ntwo\r\nthree\r\n"
    assert top(raw, 0) == b"Subject: a\r\nFrom: b\r\n\r\n"
    assert top(raw, 2) == b"Subject: a\r\nFrom: b\r\n\r\none\r\ntwo\r\n"
    assert top(raw, 99) == raw
    assert top(b"Subject: only headers\r\n", 5) == b"Subject: only headers\r\n"
    assert top(b"A: b\n\nbody\nmore", 1) == b"A: b\n\nbody\n"
