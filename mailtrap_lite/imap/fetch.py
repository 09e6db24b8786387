"""FETCH data items (RFC 3501 §6.4.5): parsing the attribute list and answering it for one message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mailtrap_lite.imap import mime
from mailtrap_lite.imap.parser import Atom, ParenList, ParseError, Token, astring, tokenize
from mailtrap_lite.imap.strings import Literal, Pieces, join, paren, string
from mailtrap_lite.imap.structure import body_structure, envelope
from mailtrap_lite.model import MessageSummary

_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SIMPLE = {
    "FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822",
    "RFC822.HEADER", "RFC822.TEXT",
}  # fmt: skip
_SECTIONED = re.compile(r"(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d{1,10})\.(\d{1,10})>)?", re.IGNORECASE)
_SECTION = re.compile(
    r"((?:[1-9]\d{0,4}\.)*[1-9]\d{0,4})?(?:(?:^|(?<=\d)\.)(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME))?"
    r"(?: (\(.*\)))?",
    re.IGNORECASE,
)
_NEEDS_RAW = {"ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"}


@dataclass(frozen=True, slots=True)
class Item:
    name: str  # FLAGS, UID, ..., or BODY[] for every sectioned body
    path: tuple[int, ...] = ()
    text: str = ""  # HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME or ""
    fields: tuple[str, ...] = ()
    peek: bool = True
    partial: tuple[int, int] | None = None

    @property
    def needs_raw(self) -> bool:
        return self.name in _NEEDS_RAW or self.name == "BODY[]"

    @property
    def sets_seen(self) -> bool:
        return (self.name == "BODY[]" and not self.peek) or self.name in ("RFC822", "RFC822.TEXT")

    def label(self) -> str:
        if self.name != "BODY[]":
            return self.name
        section = ".".join(map(str, self.path))
        if self.text:
            section += ("." if section else "") + self.text
        if self.fields:
            section += " (" + " ".join(self.fields) + ")"
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"BODY[{section}]{origin}"


def parse_items(args: tuple[Token, ...], tag: str) -> list[Item]:
    """The attribute list of FETCH: one item, a macro, or a parenthesised list."""
    if len(args) != 1:
        raise ParseError("expected one FETCH attribute or a list of them", tag)
    (arg,) = args
    if isinstance(arg, Atom) and arg.upper in _MACROS:
        return [Item(name) for name in _MACROS[arg.upper]]
    tokens = arg.items if isinstance(arg, ParenList) else (arg,)
    if not tokens:
        raise ParseError("empty FETCH attribute list", tag)
    return [_item(token, tag) for token in tokens]


def _item(token: Token, tag: str) -> Item:
    if not isinstance(token, Atom):
        raise ParseError("invalid FETCH attribute", tag)
    name = token.upper
    if name in _SIMPLE:
        return Item(name)
    match = _SECTIONED.fullmatch(token.text)
    if match is None:
        raise ParseError(f"unknown FETCH attribute {token.text[:40]!r}", tag)
    section = _SECTION.fullmatch(match.group(2))
    if section is None:
        raise ParseError(f"invalid section {match.group(2)[:40]!r}", tag)
    path = tuple(int(n) for n in section.group(1).split(".")) if section.group(1) else ()
    text = (section.group(2) or "").upper()
    fields: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        listed = tokenize(section.group(3) or "", tag)
        if len(listed) != 1 or not isinstance(listed[0], ParenList) or not listed[0].items:
            raise ParseError("HEADER.FIELDS needs a list of field names", tag)
        fields = tuple(astring(item, tag) for item in listed[0].items)
    elif section.group(3):
        raise ParseError("only HEADER.FIELDS takes a list", tag)
    if text == "MIME" and not path:
        raise ParseError("MIME needs a part number", tag)
    partial = None
    if match.group(3) is not None:
        partial = (int(match.group(3)), int(match.group(4)))
        if partial[1] == 0:
            raise ParseError("a partial range needs a length of at least 1", tag)
    return Item("BODY[]", path, text, fields, match.group(1).upper().endswith("PEEK"), partial)


def internal_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%d-%b-%Y %H:%M:%S +0000")


def flag_list(flags: list[str]) -> bytes:
    return ("(" + " ".join(flags) + ")").encode()


def render(
    items: list[Item], sequence: int, summary: MessageSummary, flags: list[str], raw: bytes | None
) -> Pieces:
    """``* n FETCH (...)`` for one message; ``raw`` is needed when an item ``needs_raw``. Parsing the MIME
    structure of a large message takes a while: call this off the event loop then."""
    root = mime.parse(raw) if raw is not None else None
    parts: list[Pieces] = []
    for item in items:
        value = _value(item, summary, flags, raw, root)
        parts.append(join([item.label().encode(), value]))
    return join([f"* {sequence} FETCH ".encode(), paren(parts), b"\r\n"], b"")


def _value(
    item: Item, summary: MessageSummary, flags: list[str], raw: bytes | None, root: mime.Entity | None
) -> Pieces:
    name = item.name
    if name == "FLAGS":
        return [flag_list(flags)]
    if name == "UID":
        return [str(summary.uid).encode()]
    if name == "INTERNALDATE":
        return [string(internal_date(summary.received_at))]
    if name == "RFC822.SIZE":
        return [str(summary.size).encode()]
    assert raw is not None and root is not None
    if name == "ENVELOPE":
        return envelope(root)
    if name in ("BODYSTRUCTURE", "BODY"):
        return body_structure(root, extensible=name == "BODYSTRUCTURE")
    if name == "RFC822":
        return [Literal(raw)]
    if name == "RFC822.HEADER":
        return [Literal(root.header)]
    if name == "RFC822.TEXT":
        return [Literal(root.body)]
    data = section_bytes(item, root, raw)
    if data is None:
        return [b"NIL"]
    if item.partial is not None:
        start, length = item.partial
        data = data[start : start + length]
    return [Literal(data)]


def section_bytes(item: Item, root: mime.Entity, raw: bytes) -> bytes | None:
    """The bytes a ``BODY[section]`` names; None when that part does not exist."""
    if not item.path and not item.text:
        return raw
    entity = mime.part(root, list(item.path)) if item.path else root
    if entity is None:
        return None
    if item.text == "MIME":
        return entity.header
    if item.text == "":
        return entity.body
    if item.path:  # HEADER and TEXT of a part name those of the message it encapsulates
        if entity.message is None:
            return None
        entity = entity.message
    if item.text == "TEXT":
        return entity.body
    if item.text == "HEADER":
        return entity.header
    return mime.header_fields(entity, list(item.fields), keep=item.text == "HEADER.FIELDS")
