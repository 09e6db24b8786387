"""Turns the bytes of an SMTP conversation into transcript lines, without sockets.

The protocol feeds it every inbound chunk as it arrives (pipelined commands arrive together, lines arrive
split) and every reply it sends. DATA content is summarised as one line; AUTH secrets are masked, both the
initial response on the AUTH line and every client line that answers a ``334`` challenge.
"""

from __future__ import annotations

import time

from mailtrap_lite.model import Direction, TranscriptLine

MASK = "****"
DATA_END = b"\r\n.\r\n"
MAX_LINES = 5000
MAX_LINE_CHARS = 2000  # a client may send a huge command line; the transcript keeps its start


class TranscriptRecorder:
    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.lines: list[TranscriptLine] = []
        self.truncated = False
        self._max_lines = max_lines
        self._started = time.monotonic()
        self._pending = bytearray()  # a client line not yet ended by LF
        self._in_data = False
        self._data_bytes = 0
        self._data_tail = b""  # the last bytes of DATA seen, so a terminator split over chunks is found
        self._secret_expected = False

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    def _add(self, direction: Direction, line: str, fault_id: str | None = None) -> None:
        if len(self.lines) >= self._max_lines:
            self.truncated = True
            return
        if len(line) > MAX_LINE_CHARS:
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
            self._data_tail = b"\r\n"  # the CRLF that ended DATA counts for a terminator at the very start

    def note(self, text: str, fault_id: str | None = None) -> None:
        """A line that is neither sent nor received, e.g. why the connection ended."""
        self._add("S", f"<{text}>", fault_id)

    def data_tail_endswith(self, endings: tuple[bytes, ...]) -> bool:
        return self._in_data and self._data_tail.endswith(endings)

    def end_data(self) -> None:
        """The DATA reader gave up on this DATA (e.g. rejected it): what follows are commands again."""
        if self._in_data:
            self._close_data()

    def client(self, chunk: bytes) -> None:
        while chunk:
            chunk = self._consume_data(chunk) if self._in_data else self._consume_command(chunk)

    def _consume_data(self, chunk: bytes) -> bytes:
        window = self._data_tail + chunk
        end = window.find(DATA_END)
        if end == -1:
            self._data_bytes += len(chunk)
            self._data_tail = window[-4:]
            return b""
        used = end + len(DATA_END) - len(self._data_tail)
        # The content ends with the terminator's CRLF; a negative count takes back tail bytes counted already.
        self._data_bytes += end + 2 - len(self._data_tail)
        self._close_data()
        return chunk[used:]

    def _close_data(self) -> None:
        self._in_data = False
        self._add("C", f"<DATA {self._data_bytes} bytes>")

    def _consume_command(self, chunk: bytes) -> bytes:
        newline = chunk.find(b"\n")
        if newline == -1:
            self._pending += chunk
            return b""
        self._pending += chunk[: newline + 1]
        self._command_line(bytes(self._pending).rstrip(b"\r\n").decode("utf-8", "replace"))
        self._pending.clear()
        return chunk[newline + 1 :]

    def _command_line(self, line: str) -> None:
        if self._secret_expected:
            self._secret_expected = False
            # "*" cancels the exchange (RFC 4954 §4) and is not a secret.
            self._add("C", line if line == "*" else MASK)
            return
        words = line.split(None, 2)
        if len(words) == 3 and words[0].upper() == "AUTH":
            line = f"{words[0]} {words[1]} {MASK}"
        self._add("C", line)

    def reset_after_starttls(self) -> None:
        # RFC 3207 §4.2: plaintext the client sent after STARTTLS is discarded, and so is our half-line.
        self._pending.clear()
