"""IMAP command syntax (RFC 3501 §9), without sockets: tags, atoms, strings, literals, lists, sequence sets.

The server reads a command a line at a time: a line that ends with ``{n}`` announces a literal of ``n``
bytes that follows the line (``literal_announced``), after which the command goes on with the next line.
``parse_command`` takes the whole command, literals inline, and returns its tag, name and arguments.

Atoms are read leniently: everything up to a space, a parenthesis or a quote, and a ``[...]`` inside an
atom is read whole (``BODY.PEEK[HEADER.FIELDS (From To)]<0.100>`` is one atom), as fetch attributes need.
Each command checks the arguments it gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NUMBER = 2**32 - 1
MAX_DEPTH = 16  # nested parentheses in one command

_LITERAL_AT_END = re.compile(rb"\{(\d{1,10})(\+?)\}\r?\n\Z")
_TAG = re.compile(r"[^\x00-\x20\x7f(){%*\"\\+]+")
_NAME = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"[1-9]\d{0,9}")


class ParseError(ValueError):
    """The command is not valid IMAP syntax; ``tag`` is set when it was read before the problem."""

    def __init__(self, message: str, tag: str | None = None) -> None:
        super().__init__(message)
        self.tag = tag


@dataclass(frozen=True, slots=True)
class Atom:
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(frozen=True, slots=True)
class ParenList:
    items: tuple[Token, ...]


Token = Atom | bytes | ParenList  # bytes: a quoted string or a literal


@dataclass(frozen=True, slots=True)
class Command:
    tag: str
    name: str  # upper case; for ``UID FETCH`` etc. the name after UID, with ``uid`` set
    args: tuple[Token, ...]
    uid: bool = False


def literal_announced(line: bytes) -> tuple[int, bool] | None:
    """``(size, synchronising)`` when the line ends by announcing a literal (``{n}`` or ``{n+}``)."""
    match = _LITERAL_AT_END.search(line)
    if match is None:
        return None
    return int(match.group(1)), not match.group(2)


def parse_command(data: bytes) -> Command:
    """One complete command, its final CRLF included or not; raises ParseError."""
    if data.endswith(b"\n"):
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    space = data.find(b" ")
    head = data if space == -1 else data[:space]
    tag = head.decode("ascii", "replace")
    if not head.isascii() or not _TAG.fullmatch(tag):
        raise ParseError("invalid tag")
    if space == -1:
        raise ParseError("missing command", tag)
    reader = _Reader(data, space + 1, tag)
    name_token = reader.token()
    if not isinstance(name_token, Atom) or not _NAME.fullmatch(name_token.text):
        raise ParseError("invalid command name", tag)
    name = name_token.upper
    uid = False
    if name == "UID":
        reader.space()
        inner = reader.token()
        if not isinstance(inner, Atom) or not _NAME.fullmatch(inner.text):
            raise ParseError("invalid command after UID", tag)
        name, uid = inner.upper, True
    args: list[Token] = []
    while not reader.at_end():
        reader.space()
        args.append(reader.token())
    return Command(tag, name, tuple(args), uid)


def tokenize(text: str, tag: str | None = None) -> tuple[Token, ...]:
    """Space-separated tokens of a piece of a command (e.g. the inside of a ``[...]`` section)."""
    reader = _Reader(text.encode("utf-8"), 0, tag)
    tokens: list[Token] = []
    while not reader.at_end():
        if tokens:
            reader.space()
        tokens.append(reader.token())
    return tuple(tokens)


class _Reader:
    def __init__(self, data: bytes, pos: int, tag: str | None) -> None:
        self.data = data
        self.pos = pos
        self.tag = tag

    def fail(self, message: str) -> ParseError:
        return ParseError(message, self.tag)

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def space(self) -> None:
        if self.data[self.pos : self.pos + 1] != b" ":
            raise self.fail("expected a space")
        self.pos += 1

    def token(self, depth: int = 0) -> Token:
        if self.at_end():
            raise self.fail("unexpected end of command")
        first = self.data[self.pos : self.pos + 1]
        if first == b"(":
            return self._list(depth)
        if first == b'"':
            return self._quoted()
        if first == b"{":
            return self._literal()
        return self._atom()

    def _list(self, depth: int) -> ParenList:
        if depth >= MAX_DEPTH:
            raise self.fail("parentheses nested too deep")
        self.pos += 1
        items: list[Token] = []
        while True:
            if self.at_end():
                raise self.fail("unclosed parenthesis")
            if self.data[self.pos : self.pos + 1] == b")":
                self.pos += 1
                return ParenList(tuple(items))
            if items:
                self.space()
            items.append(self.token(depth + 1))

    def _quoted(self) -> bytes:
        out = bytearray()
        pos = self.pos + 1
        data = self.data
        while pos < len(data):
            char = data[pos]
            if char == 0x22:  # "
                self.pos = pos + 1
                return bytes(out)
            if char == 0x5C:  # backslash: only \" and \\ are escapes
                if data[pos + 1 : pos + 2] not in (b'"', b"\\"):
                    raise self.fail("invalid escape in quoted string")
                out.append(data[pos + 1])
                pos += 2
                continue
            if char in (0x0D, 0x0A, 0x00):
                raise self.fail("line break in quoted string")
            out.append(char)
            pos += 1
        raise self.fail("unterminated quoted string")

    def _literal(self) -> bytes:
        match = re.compile(rb"\{(\d{1,10})\+?\}\r?\n").match(self.data, self.pos)
        if match is None:
            raise self.fail("invalid literal")
        size = int(match.group(1))
        start = match.end()
        if start + size > len(self.data):
            raise self.fail("literal shorter than announced")
        self.pos = start + size
        return self.data[start : self.pos]

    def _atom(self) -> Atom:
        data = self.data
        start = pos = self.pos
        while pos < len(data):
            char = data[pos : pos + 1]
            if char == b"[":
                end = data.find(b"]", pos)
                if end == -1:
                    raise self.fail("unclosed [")
                if b"\n" in data[pos:end] or b"{" in data[pos:end]:
                    raise self.fail("invalid section")
                pos = end + 1
                continue
            if char in b' ()"{\r\n' or data[pos] < 0x20 or data[pos] == 0x7F:
                break
            pos += 1
        if pos == start:
            raise self.fail(f"unexpected {data[pos : pos + 1]!r}")
        self.pos = pos
        try:
            return Atom(data[start:pos].decode("utf-8"))
        except UnicodeDecodeError:
            raise self.fail("an atom is not UTF-8") from None


# --- arguments --------------------------------------------------------------------------------------------


def astring(token: Token, tag: str | None = None) -> str:
    """An atom or a string as text (UTF-8 accepted, as clients send it)."""
    if isinstance(token, Atom):
        return token.text
    if isinstance(token, bytes):
        return token.decode("utf-8", "replace")
    raise ParseError("expected a string", tag)


def number(token: Token, tag: str | None = None) -> int:
    if isinstance(token, Atom) and _NUMBER.fullmatch(token.text) and int(token.text) <= MAX_NUMBER:
        return int(token.text)
    if isinstance(token, Atom) and token.text == "0":
        return 0
    raise ParseError("expected a number", tag)


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """Ranges as given; None stands for ``*`` (the largest number in use)."""

    ranges: tuple[tuple[int | None, int | None], ...]

    def bounds(self, largest: int) -> list[tuple[int, int]]:
        """The ranges as (low, high) with ``*`` as ``largest``, ends in order."""
        found = []
        for start, end in self.ranges:
            low = largest if start is None else start
            high = largest if end is None else end
            found.append((min(low, high), max(low, high)))
        return found

    def highest_named(self) -> int:
        """The largest number written out (not ``*``); 0 when there is none."""
        return max((n for pair in self.ranges for n in pair if n is not None), default=0)


def sequence_set(token: Token, tag: str | None = None) -> SequenceSet:
    """``1,3:5,7:*``; raises ParseError for anything else (0, empty parts, numbers beyond 32 bits)."""
    if not isinstance(token, Atom):
        raise ParseError("expected a sequence set", tag)
    ranges: list[tuple[int | None, int | None]] = []
    for part in token.text.split(","):
        ends = part.split(":")
        if len(ends) > 2:
            raise ParseError(f"invalid sequence set {token.text[:50]!r}", tag)
        values = [_seq_number(end, token.text, tag) for end in ends]
        ranges.append((values[0], values[-1]))
    return SequenceSet(tuple(ranges))


def _seq_number(text: str, whole: str, tag: str | None) -> int | None:
    if text == "*":
        return None
    if not _NUMBER.fullmatch(text) or int(text) > MAX_NUMBER:
        raise ParseError(f"invalid sequence set {whole[:50]!r}", tag)
    return int(text)


def is_sequence_set(token: Token) -> bool:
    try:
        sequence_set(token)
    except ParseError:
        return False
    return True
