"""The transcript recorder, fed bytes directly: no sockets."""

from __future__ import annotations

import pytest

from mailtrap_lite.smtp.transcript import MASK, MAX_LINE_CHARS, TranscriptRecorder, has_bare_lf_end


def lines(recorder: TranscriptRecorder) -> list[tuple[str, str]]:
    return [(line.dir, line.line) for line in recorder.lines]


def test_pipelined_and_split_commands_become_lines() -> None:
    recorder = TranscriptRecorder()
    recorder.client(b"EHLO a\r\nMAIL FROM:<x@y>\r\nRC")
    recorder.client(b"PT TO:<z@y>\r\n")
    assert lines(recorder) == [("C", "EHLO a"), ("C", "MAIL FROM:<x@y>"), ("C", "RCPT TO:<z@y>")]


def test_data_is_summarised_and_commands_after_it_are_kept() -> None:
    recorder = TranscriptRecorder()
    recorder.server("354 go ahead")
    recorder.client(b"Subject: x\r\n\r\nbody\r\n")
    recorder.client(b".\r\nQUIT\r\n")
    assert lines(recorder)[1:] == [("C", "<DATA 20 bytes>"), ("C", "QUIT")]


def test_terminator_split_across_chunks_is_found() -> None:
    recorder = TranscriptRecorder()
    recorder.server("354 go ahead")
    for piece in (b"abc\r", b"\n.", b"\r", b"\nNOOP\r\n"):
        recorder.client(piece)
    assert lines(recorder)[1:] == [("C", "<DATA 5 bytes>"), ("C", "NOOP")]


def test_empty_data() -> None:
    recorder = TranscriptRecorder()
    recorder.server("354 go ahead")
    recorder.client(b".\r\n")
    assert lines(recorder)[-1] == ("C", "<DATA 0 bytes>")


def test_auth_initial_response_and_challenge_answers_are_masked() -> None:
    recorder = TranscriptRecorder()
    recorder.client(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
    recorder.client(b"AUTH LOGIN\r\n")
    recorder.server("334 VXNlcm5hbWU6")
    recorder.client(b"YWxpY2U=\r\n")
    recorder.server("334 UGFzc3dvcmQ6")
    recorder.client(b"c2VjcmV0\r\n")
    recorder.server("235 2.7.0 Authentication successful")
    recorder.client(b"NOOP\r\n")
    client = [line for d, line in lines(recorder) if d == "C"]
    assert client == [f"AUTH PLAIN {MASK}", "AUTH LOGIN", MASK, MASK, "NOOP"]


def test_auth_cancel_is_not_masked() -> None:
    recorder = TranscriptRecorder()
    recorder.server("334 ")
    recorder.client(b"*\r\n")
    assert lines(recorder)[-1] == ("C", "*")


def test_transcript_is_capped() -> None:
    recorder = TranscriptRecorder(max_lines=3)
    recorder.client(b"NOOP\r\n" * 10)
    assert len(recorder.lines) == 3
    assert recorder.truncated


def test_huge_line_is_shortened() -> None:
    recorder = TranscriptRecorder()
    recorder.client(b"X" * 10000 + b"\r\n")
    assert len(recorder.lines[0].line) < 2100
    assert recorder.lines[0].line.endswith("<10000 bytes>")


def test_multiline_reply_is_one_line_each() -> None:
    recorder = TranscriptRecorder()
    recorder.server("250-first\r\n250 second")
    assert lines(recorder) == [("S", "250-first"), ("S", "250 second")]


def test_end_data_returns_to_commands() -> None:
    recorder = TranscriptRecorder()
    recorder.client(b"DATA\r\n")
    recorder.server("354 go ahead")
    recorder.client(b"x\n.\n")
    assert recorder.bare_lf_end_then_silence(0)
    recorder.end_data()
    recorder.client(b"QUIT\r\n")
    assert lines(recorder)[-2:] == [("C", "<DATA 4 bytes>"), ("C", "QUIT")]


def test_a_line_that_never_ends_keeps_only_its_start() -> None:
    recorder = TranscriptRecorder()
    block = b"NOOP " + b"y" * 65531
    for _ in range(64):  # 4 MiB without a line feed
        recorder.client(block)
    assert recorder.lines == []
    recorder.client(b"\r\nQUIT\r\n")
    (long_dir, long_line), quit_line = lines(recorder)
    assert long_dir == "C" and long_line.startswith("NOOP yyy")
    assert long_line.endswith(f"… <{64 * 65536} bytes>")
    assert len(long_line) <= MAX_LINE_CHARS + 20
    assert quit_line == ("C", "QUIT")


def test_bare_lf_end_is_found_after_data_also_when_more_lines_follow() -> None:
    # A client that does not wait for 354 sends the content and QUIT as if they were command lines.
    piped = TranscriptRecorder()
    piped.client(b"DATA\nSubject: x\n\nbody\n.\nQUIT\n")
    assert not piped.bare_lf_end_then_silence(0)  # not in DATA until the server says 354
    piped.server("354 go ahead")
    assert piped.bare_lf_end_then_silence(0)
    assert not piped.bare_lf_end_then_silence(3600)  # the client has not been silent that long

    split = TranscriptRecorder()
    split.client(b"DATA\r\n")
    split.server("354 go ahead")
    split.client(b"x\r\n.")
    split.client(b"\nNOOP\r\n")  # CRLF "." LF, split over two reads
    assert split.bare_lf_end_then_silence(0)

    proper = TranscriptRecorder()
    proper.client(b"DATA\r\n")
    proper.server("354 go ahead")
    proper.client(b"..stuffed\r\n.x\r\n")
    assert not proper.bare_lf_end_then_silence(0)


@pytest.mark.parametrize(
    ("data", "bare"),
    [
        (b"a\n.\n", True),
        (b"a\r\n.\n", True),
        (b"a\n.\r\n", True),
        (b"\n.\n", True),
        (b"a\r\n.\r\n", False),
        (b"a\n..\n", False),
        (b"a\n.x\n", False),
        (b"a.\n", False),
    ],
)
def test_has_bare_lf_end(data: bytes, bare: bool) -> None:
    assert has_bare_lf_end(data) is bare
