"""IMAP strings in responses: quoted when that is safe, a literal otherwise, NIL for nothing.

A response is a list of ``bytes`` and ``Literal`` pieces. The server writes a literal as ``{n}`` CRLF
and its bytes; the transcript shows it as its size only, so message bodies never fill a transcript.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_QUOTED = 1000


@dataclass(frozen=True, slots=True)
class Literal:
    data: bytes


Piece = bytes | Literal
Pieces = list[Piece]


def string(value: bytes | str) -> Piece:
    """A quoted string, or a literal for line breaks, NUL, 8-bit bytes or great length."""
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if len(data) > MAX_QUOTED or any(byte in data for byte in b"\r\n\x00") or not data.isascii():
        return Literal(data)
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def nstring(value: bytes | str | None) -> Piece:
    return b"NIL" if value is None else string(value)


def join(parts: Iterable[Piece | Pieces], separator: bytes = b" ") -> Pieces:
    """Pieces and lists of pieces joined with ``separator``, adjacent bytes merged."""
    out: Pieces = []
    first = True
    for part in parts:
        if not first:
            _append(out, separator)
        first = False
        for piece in part if isinstance(part, list) else [part]:
            _append(out, piece)
    return out


def paren(parts: Iterable[Piece | Pieces]) -> Pieces:
    return join([b"(", join(parts), b")"], b"")


def _append(out: Pieces, piece: Piece) -> None:
    if isinstance(piece, bytes) and out and isinstance(out[-1], bytes):
        out[-1] += piece
    elif piece != b"":
        out.append(piece)


def wire(pieces: Sequence[Piece]) -> bytes:
    return b"".join(b"{%d}\r\n%s" % (len(p.data), p.data) if isinstance(p, Literal) else p for p in pieces)


def summary(pieces: Sequence[Piece]) -> str:
    """The response as one transcript line: each literal as its size."""
    text = "".join(
        f"{{{len(p.data)}}} <{len(p.data)} bytes>" if isinstance(p, Literal) else p.decode("utf-8", "replace")
        for p in pieces
    )
    return text.rstrip("\r\n")
