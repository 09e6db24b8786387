"""The DATA reader's pure pieces, fed any chunking of the same bytes: TranscriptRecorder and Unstuffer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.smtp.dotstuff import Unstuffer
from mailtrap_lite.smtp.transcript import MASK, TranscriptRecorder
from tests.fuzz.budget import examples
from tests.fuzz.chunks import chunked

# Bytes that make line and DATA boundaries interesting: CR, LF, dots, NUL, 8-bit, letters.
_WIRE = st.binary(max_size=300) | st.lists(
    st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"..", b"\r\n.\r\n", b"\x00", b"\xff\xfe", b"a", b"AUTH "]),
    max_size=60,
).map(b"".join)

_REPLIES = st.sampled_from(
    [
        "220 mailtrap-lite ESMTP",
        "250 2.0.0 Ok",
        "250-mailtrap-lite\r\n250 8BITMIME",
        "334 VXNlcm5hbWU6",
        "354 End data with <CR><LF>.<CR><LF>",
        "500 5.5.2 Error: bad syntax",
    ]
)


def unstuffed(data: bytes) -> bytes:
    """RFC 5321 §4.5.2 in one step: a line that starts with "." loses that dot."""
    return (b"\r\n" + data).replace(b"\r\n.", b"\r\n")[2:]


@examples(300)
@given(st.data(), _WIRE)
def test_unstuffing_any_chunking_is_unstuffing_at_once(data: st.DataObject, stream: bytes) -> None:
    pieces = data.draw(chunked(stream))
    unstuffer = Unstuffer()
    assert b"".join(unstuffer.feed(piece) for piece in pieces) == unstuffed(stream)


# A conversation: server replies, and the client bytes sent after each (cut into pieces separately).
_SCRIPT = st.lists(st.tuples(_REPLIES, _WIRE), max_size=8)


def lines_of(script: list[tuple[str, list[bytes]]]) -> tuple[list[tuple[str, str]], bool]:
    recorder = TranscriptRecorder(max_lines=40)
    for reply, pieces in script:
        recorder.server(reply)
        for piece in pieces:
            recorder.client(piece)
    return [(line.dir, line.line) for line in recorder.lines], recorder.truncated


@examples(300)
@given(st.data(), _SCRIPT)
def test_transcript_is_the_same_in_any_chunking(data: st.DataObject, script: list[tuple[str, bytes]]) -> None:
    whole = [(reply, [sent]) for reply, sent in script]
    cut = [(reply, data.draw(chunked(sent))) for reply, sent in script]
    assert lines_of(cut) == lines_of(whole)


@examples(200)
@given(st.data(), st.binary(max_size=200))
def test_data_line_counts_the_content(data: st.DataObject, body: bytes) -> None:
    content = body if not body or body.endswith(b"\r\n") else body + b"\r\n"
    while b"\r\n.\r\n" in b"\r\n" + content:  # stuff every line that would end DATA early
        content = (b"\r\n" + content).replace(b"\r\n.\r\n", b"\r\n..\r\n")[2:]
    stream = content + b".\r\nQUIT\r\n"
    recorder = TranscriptRecorder()
    recorder.server("354 End data with <CR><LF>.<CR><LF>")
    for piece in data.draw(chunked(stream)):
        recorder.client(piece)
    assert [line.line for line in recorder.lines[1:]] == [f"<DATA {len(content)} bytes>", "QUIT"]


_SECRET = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=", min_size=12, max_size=40).map(lambda s: "Zq" + s)


@examples(200)
@given(st.data(), _SECRET, st.sampled_from(["PLAIN", "LOGIN", "plain", "XOAUTH2"]), st.booleans())
def test_auth_secrets_never_reach_the_transcript(
    data: st.DataObject, secret: str, mechanism: str, initial: bool
) -> None:
    """The initial response and every answer to a 334 are masked, however the bytes arrive."""
    script = [("250 2.0.0 Ok", f"AUTH {mechanism} {secret}\r\n" if initial else f"AUTH {mechanism}\r\n")]
    script += [("334 VXNlcm5hbWU6", f"{secret}\r\n"), ("334 UGFzc3dvcmQ6", f"{secret[::-1]}\r\n")]
    recorder = TranscriptRecorder()
    for reply, sent in script:
        recorder.server(reply)
        for piece in data.draw(chunked(sent.encode())):
            recorder.client(piece)
    text = "\n".join(line.line for line in recorder.lines)
    assert secret not in text and secret[::-1] not in text
    assert text.count(MASK) == 2 + initial
