"""Undoing SMTP dot-stuffing (RFC 5321 §4.5.2) piece by piece, as DATA arrives.

Unstuffing a 10 MB message in one ``bytes.replace`` holds the event loop (and the GIL) for milliseconds
(benchmarks/README.md); doing it on each piece the reader returns (≤ 256 KiB) costs the same in total
but holds the loop only briefly each time. A ``CRLF.`` split across two pieces is found through the last
two bytes of the previous piece.
"""

from __future__ import annotations


class Unstuffer:
    """Feed the DATA bytes in order (without the final ``.CRLF``); returns them unstuffed."""

    def __init__(self) -> None:
        # The CRLF that ended the DATA command: a "." at the very start of the content is stuffed too.
        self._tail = b"\r\n"

    def feed(self, piece: bytes) -> bytes:
        if not piece:
            return piece
        tail = self._tail
        self._tail = (tail + piece)[-2:] if len(piece) < 2 else piece[-2:]
        if tail == b"\r\n" and piece[:1] == b".":
            piece = piece[1:]
        elif tail[-1:] == b"\r" and piece[:2] == b"\n.":
            piece = b"\n" + piece[2:]
        return piece.replace(b"\r\n.", b"\r\n")  # the same object when nothing is stuffed
