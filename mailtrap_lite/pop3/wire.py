"""The bytes of a POP3 connection: command lines in (bounded), messages out (dot-stuffed, CRLF), TOP."""

from __future__ import annotations

import re

# RFC 2449 §4 allows 255 octets per command line; an AUTH PLAIN response may be longer, so keep some room.
MAX_LINE_BYTES = 8192
_BARE_LF = re.compile(rb"(?<!\r)\n")


class LineBuffer:
    """Cuts received bytes into lines (CRLF or bare LF, both removed), holding at most MAX_LINE_BYTES of
    an unfinished one; past that ``overflowed`` is set and nothing more is returned."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._pending = bytearray()
        self._max_line = max_line
        self.overflowed = False

    def feed(self, data: bytes) -> list[bytes]:
        if self.overflowed:
            return []
        self._pending += data
        *lines, rest = bytes(self._pending).split(b"\n")
        self._pending = bytearray(rest)
        complete: list[bytes] = []
        for line in lines:
            if len(line) > self._max_line:
                self.overflowed = True
                return complete
            complete.append(line.removesuffix(b"\r"))
        if len(self._pending) > self._max_line:
            self.overflowed = True
        return complete

    def discard(self) -> int:
        """Forget what is buffered (plaintext sent after STLS, RFC 2595 §4); returns how many bytes."""
        size = len(self._pending)
        self._pending.clear()
        return size


class Stuffer:
    """Feed a message's bytes in order; returns them as a POP3 multi-line response carries them: every
    line ending CRLF (a bare LF gains its CR) and every line that starts with "." given one more
    (RFC 1939 §3). ``end()`` is the terminator."""

    def __init__(self) -> None:
        self._last = b"\n"  # the message starts at the start of a line

    def feed(self, piece: bytes) -> bytes:
        if not piece:
            return piece
        out = _BARE_LF.sub(b"\r\n", piece).replace(b"\r\n.", b"\r\n..")
        if self._last == b"\r" and piece[:1] == b"\n":
            out = out[1:]  # that LF ends the CRLF the last piece began: it gained no CR
        elif self._last == b"\n" and out[:1] == b".":
            out = b"." + out
        self._last = piece[-1:]
        return out

    def end(self) -> bytes:
        if self._last == b"\n":
            return b".\r\n"
        return (b"\n" if self._last == b"\r" else b"\r\n") + b".\r\n"


def top(raw: bytes, lines: int) -> bytes:
    """The header section, the blank line and the first ``lines`` lines of the body (RFC 1939 §7 TOP)."""
    match = re.search(rb"\r?\n\r?\n", raw)
    if match is None:
        return raw  # all header, no body
    body = raw[match.end() :]
    end = 0
    for _ in range(lines):
        newline = body.find(b"\n", end)
        if newline == -1:
            end = len(body)
            break
        end = newline + 1
    return raw[: match.end()] + body[:end]
