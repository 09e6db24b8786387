"""Turns the bytes of an SMTP conversation into transcript lines, without sockets.

The protocol feeds it every inbound chunk as it arrives (pipelined commands arrive together, lines arrive
split) and every reply it sends. DATA content is summarised as one line; AUTH secrets are masked, both the
initial response on the AUTH line and every client line that answers a ``334`` challenge.
"""

from __future__ import annotations

import time

from mailtrap_lite.model import Direction, TranscriptLine

MASK = "****"


def masked_auth(line: str) -> str:
    """An ``AUTH mechanism initial-response`` line (SMTP, RFC 4954; POP3, RFC 5034) with the response
    masked; any other line as it is."""
    words = line.split(None, 2)
    if len(words) == 3 and words[0].upper() == "AUTH":
        return f"{words[0]} {words[1]} {MASK}"
    return line


DATA_END = b"\r\n.\r\n"
MAX_LINES = 5000
MAX_LINE_CHARS = 2000  # a client may send a huge command line; the transcript keeps its start
# Bytes of an unfinished client line held for the transcript (a UTF-8 character is at most 4 bytes): a
# line that never ends costs this much here, whatever its length; the rest is only counted.
MAX_PENDING_BYTES = 4 * MAX_LINE_CHARS


class TranscriptRecorder:
    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.lines: list[TranscriptLine] = []
        self.truncated = False
        self._max_lines = max_lines
        self._started = time.monotonic()
        self._pending = bytearray()  # a client line not yet ended by LF, at most MAX_PENDING_BYTES
        self._pending_size = 0  # that line's length so far, dropped bytes included
        self._in_data = False
        self._data_bytes = 0
        self._data_ended_empty = False
        self._data_tail = b""  # the last bytes of DATA seen, so a terminator split over chunks is found
        self._stream_tail = b""  # the last bytes received, so a bare-LF end split over chunks is found
        self._watch_bare_lf = False  # from a DATA command line until its data ends
        self._bare_lf_end_seen = False
        self._last_received = time.monotonic()
        self._secret_expected = False

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    def _add(self, direction: Direction, line: str, fault_id: str | None = None, size: int = 0) -> None:
        """Append a line; ``size`` is its length in bytes when only its start was kept."""
        if len(self.lines) >= self._max_lines:
            self.truncated = True
            return
        if size:
            line = f"{line[:MAX_LINE_CHARS]}… <{size} bytes>"
        elif len(line) > MAX_LINE_CHARS:
            line = f"{line[:MAX_LINE_CHARS]}… <{len(line)} chars>"
        self.lines.append(TranscriptLine(self.elapsed_ms(), direction, line, fault_id))

    def server(self, reply: str, fault_id: str | None = None) -> None:
        for line in reply.split("\r\n"):
            self._add("S", line, fault_id)
        if reply.startswith("334"):
            self._secret_expected = True
        elif reply.startswith("354"):
            self._in_data = True
            self._data_bytes = 0
            self._data_ended_empty = False
            self._data_tail = b"\r\n"  # the CRLF that ended DATA counts for a terminator at the very start

    def note(self, text: str, fault_id: str | None = None) -> None:
        """A line that is neither sent nor received, e.g. why the connection ended."""
        self._add("S", f"<{text}>", fault_id)

    def bare_lf_end_then_silence(self, seconds: float) -> bool:
        """Whether, since the last DATA command, the client sent a bare-LF end of data (``LF.LF``,
        ``LF.CRLF`` or ``CRLF.LF``; RFC 5321 §4.1.1.4 allows only ``CRLF.CRLF``) and then nothing more
        for ``seconds``. Commands it sent after that end (a pipelining client's QUIT) do not matter."""
        return self._in_data and self._bare_lf_end_seen and time.monotonic() - self._last_received >= seconds

    def data_ended_empty(self) -> bool:
        """Whether the last DATA was ended at once by ``.CRLF``: an empty message, whose terminator's CRLF
        is the one that ended the DATA command (RFC 5321 §4.1.1.4)."""
        return self._data_ended_empty

    def end_data(self) -> None:
        """The DATA reader gave up on this DATA (e.g. rejected it): what follows are commands again."""
        if self._in_data:
            self._close_data()

    def client(self, chunk: bytes) -> None:
        self._last_received = time.monotonic()
        while chunk:
            chunk = self._consume_data(chunk) if self._in_data else self._consume_command(chunk)

    def _watch(self, segment: bytes) -> None:
        """Look for a bare-LF end of data in the next bytes received (DATA content or pipelined lines)."""
        if self._watch_bare_lf and not self._bare_lf_end_seen:
            self._bare_lf_end_seen = has_bare_lf_end(self._stream_tail + segment)
        self._stream_tail = (self._stream_tail + segment[-4:])[-4:]

    def _consume_data(self, chunk: bytes) -> bytes:
        window = self._data_tail + chunk
        end = window.find(DATA_END)
        if end == -1:
            self._watch(chunk)
            self._data_bytes += len(chunk)
            self._data_tail = window[-4:]
            return b""
        used = end + len(DATA_END) - len(self._data_tail)
        self._watch(chunk[:used])
        # The content ends with the terminator's CRLF; a negative count takes back tail bytes counted already.
        self._data_bytes += end + 2 - len(self._data_tail)
        self._close_data()
        return chunk[used:]

    def _close_data(self) -> None:
        self._in_data = False
        self._data_ended_empty = self._data_bytes == 0
        self._watch_bare_lf = self._bare_lf_end_seen = False
        self._add("C", f"<DATA {self._data_bytes} bytes>")

    def _consume_command(self, chunk: bytes) -> bytes:
        newline = chunk.find(b"\n")
        part = chunk if newline == -1 else chunk[: newline + 1]
        self._watch(part)
        self._pending_size += len(part)
        room = MAX_PENDING_BYTES - len(self._pending)
        if room > 0:
            self._pending += part[:room]
        if newline == -1:
            return b""
        size = self._pending_size - (2 if part.endswith(b"\r\n") else 1)
        line = bytes(self._pending).rstrip(b"\r\n").decode("utf-8", "replace")
        self._command_line(line, size if self._pending_size > MAX_PENDING_BYTES else 0)
        self._pending.clear()
        self._pending_size = 0
        return chunk[newline + 1 :]

    def _command_line(self, line: str, size: int) -> None:
        """One client line; ``size`` is its length in bytes when only its start was kept, else 0."""
        if self._secret_expected:
            self._secret_expected = False
            # "*" cancels the exchange (RFC 4954 §4) and is not a secret.
            self._add("C", line if line == "*" else MASK)
            return
        words = line.split(None, 1)
        if words and words[0].upper() == "DATA":
            self._watch_bare_lf, self._bare_lf_end_seen = True, False
        self._add("C", masked_auth(line), size=size)

    def reset_after_starttls(self) -> None:
        # RFC 3207 §4.2: plaintext the client sent after STARTTLS is discarded, and so is our half-line.
        self._pending.clear()
        self._pending_size = 0


def has_bare_lf_end(data: bytes) -> bool:
    """Whether ``data`` holds a "." line that would end DATA if bare LF counted as a line ending."""
    start = data.find(b"\n.")
    while start != -1:
        after = data[start + 2 : start + 4]
        if after[:1] == b"\n" or (after == b"\r\n" and data[start - 1 : start] != b"\r"):
            return True
        start = data.find(b"\n.", start + 1)
    return False
