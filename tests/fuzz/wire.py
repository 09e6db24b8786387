"""A raw-socket SMTP client for the fuzz tests: it sends any bytes and checks every reply line's shape."""

from __future__ import annotations

import re
import socket
from types import TracebackType

# RFC 5321 §4.2: three digits, then a space (the last line) or a dash (more follow), then text.
REPLY_LINE = re.compile(rb"[2-5][0-9]{2}([ -][^\r\n]*)?")
# What aiosmtpd answers when a command handler raises: an exception escaped, never a documented reply.
ESCAPED_EXCEPTION = re.compile(rb"5[0-9]{2}[ -](5\.[0-9]+\.[0-9]+ )?Error: \(\w+\)")
TIMEOUT = 30.0  # generous: a reply that has not come by then never will


class Closed(Exception):
    """The server closed the connection (expected only after QUIT or a 421)."""


class Wire:
    def __init__(self, address: tuple[str, int], timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buffer = b""
        self.lines: list[bytes] = []  # every reply line received

    def __enter__(self) -> Wire:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)  # socket.timeout (a test failure) if the server stays silent
            if not chunk:
                raise Closed(f"connection closed; unanswered bytes {self.buffer!r:.200}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        assert REPLY_LINE.fullmatch(line), f"not an SMTP reply line: {line!r:.300}"
        assert not ESCAPED_EXCEPTION.match(line), f"an exception escaped: {line!r:.300}"
        self.lines.append(line)
        return line

    def reply(self) -> tuple[int, bytes]:
        """The next whole reply (all its lines): its code and its last line's text."""
        first = line = self._line()
        while line[3:4] == b"-":
            line = self._line()
            assert line[:3] == first[:3], f"a multi-line reply changed its code: {first!r} then {line!r}"
        return int(line[:3]), line[4:]

    def command(self, line: bytes) -> tuple[int, bytes]:
        self.send(line + b"\r\n")
        return self.reply()
