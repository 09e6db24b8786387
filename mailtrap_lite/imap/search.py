"""SEARCH criteria (RFC 3501 §6.4.4): parsed into a tree, evaluated per message of the selected mailbox.

Flags, dates, sizes and sets are decided from the summaries. Text criteria (FROM, TO, CC, BCC, SUBJECT,
BODY, TEXT) ask the store, through the query language, which messages of the mailbox contain the text:
one store search per criterion, whatever the number of messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from mailtrap_lite.imap.parser import (
    Atom,
    ParenList,
    ParseError,
    SequenceSet,
    Token,
    astring,
    number,
    sequence_set,
)
from mailtrap_lite.model import MessageSummary

_TEXT_FIELDS = {
    "FROM": "from",
    "TO": "to",
    "CC": "cc",
    "BCC": "bcc",
    "SUBJECT": "subject",
    "BODY": None,
    "TEXT": None,
}
_DATES = {"SINCE", "BEFORE", "ON", "SENTSINCE", "SENTBEFORE", "SENTON"}
_FLAG_KEYS = {
    "SEEN", "UNSEEN", "DELETED", "UNDELETED", "ANSWERED", "UNANSWERED", "FLAGGED", "UNFLAGGED", "DRAFT",
    "UNDRAFT", "NEW", "OLD", "RECENT", "ALL",
}  # fmt: skip
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
MAX_KEYS = 64


@dataclass(frozen=True, slots=True)
class Key:
    name: str  # an IMAP search key, upper case; "AND", "OR", "NOT" combine ``children``
    children: tuple[Key, ...] = ()
    text: str = ""
    day: date | None = None
    size: int = 0
    numbers: SequenceSet | None = None


def parse(args: tuple[Token, ...], tag: str) -> Key:
    tokens = list(args)
    if tokens and isinstance(tokens[0], Atom) and tokens[0].upper == "CHARSET":
        if len(tokens) < 2 or astring(tokens[1], tag).upper() not in ("UTF-8", "US-ASCII"):
            raise ParseError("[BADCHARSET (UTF-8 US-ASCII)] unsupported charset", tag)
        tokens = tokens[2:]
    if not tokens:
        raise ParseError("SEARCH needs a criterion", tag)
    reader = _Keys(tokens, tag)
    keys = []
    while reader.tokens:
        keys.append(reader.key(0))
    return Key("AND", tuple(keys))


class _Keys:
    def __init__(self, tokens: list[Token], tag: str) -> None:
        self.tokens = tokens
        self.tag = tag
        self.count = 0

    def next(self) -> Token:
        if not self.tokens:
            raise ParseError("SEARCH criterion incomplete", self.tag)
        return self.tokens.pop(0)

    def key(self, depth: int) -> Key:
        self.count += 1
        if self.count > MAX_KEYS or depth > 16:
            raise ParseError("SEARCH too complex", self.tag)
        token = self.next()
        if isinstance(token, ParenList):
            inner = _Keys(list(token.items), self.tag)
            inner.count = self.count
            children = []
            while inner.tokens:
                children.append(inner.key(depth + 1))
            self.count = inner.count
            if not children:
                raise ParseError("empty SEARCH list", self.tag)
            return Key("AND", tuple(children))
        if not isinstance(token, Atom):
            raise ParseError("invalid SEARCH criterion", self.tag)
        name = token.upper
        if name in _FLAG_KEYS:
            return Key(name)
        if name == "NOT":
            return Key("NOT", (self.key(depth + 1),))
        if name == "OR":
            return Key("OR", (self.key(depth + 1), self.key(depth + 1)))
        if name in _TEXT_FIELDS:
            return Key(name, text=astring(self.next(), self.tag))
        if name == "HEADER":
            field = astring(self.next(), self.tag)
            return Key(name, text=field.lower() + "\n" + astring(self.next(), self.tag))
        if name in _DATES:
            return Key(name, day=_date(astring(self.next(), self.tag), self.tag))
        if name in ("LARGER", "SMALLER"):
            return Key(name, size=number(self.next(), self.tag))
        if name == "UID":
            return Key(name, numbers=sequence_set(self.next(), self.tag))
        return Key("SET", numbers=sequence_set(token, self.tag))


def _date(text: str, tag: str) -> date:
    day, _, rest = text.partition("-")
    month, _, year = rest.partition("-")
    try:
        return date(int(year), _MONTHS.index(month.lower()) + 1, int(day))
    except ValueError:
        raise ParseError(f"invalid date {text[:30]!r} (expected e.g. 1-Feb-2026)", tag) from None


def text_criteria(key: Key) -> list[Key]:
    """The criteria that need the store's text search, to be answered before ``matches`` runs."""
    if key.name in _TEXT_FIELDS:
        return [key]
    return [found for child in key.children for found in text_criteria(child)]


TextSearch = Callable[[str | None, str], Awaitable[set[str]]]  # (field or None, text) -> matching ids


async def answer_text(key: Key, search: TextSearch) -> dict[Key, set[str]]:
    return {found: await search(_TEXT_FIELDS[found.name], found.text) for found in text_criteria(key)}


@dataclass(frozen=True, slots=True)
class Candidate:
    sequence: int
    summary: MessageSummary
    deleted: bool
    largest_sequence: int
    largest_uid: int


def matches(key: Key, message: Candidate, texts: dict[Key, set[str]], headers: Callable[[str], str]) -> bool:
    summary = message.summary
    name = key.name
    if name == "AND":
        return all(matches(child, message, texts, headers) for child in key.children)
    if name == "OR":
        return any(matches(child, message, texts, headers) for child in key.children)
    if name == "NOT":
        return not matches(key.children[0], message, texts, headers)
    if name in _TEXT_FIELDS:
        return summary.id in texts[key]
    if name in _DATES:
        assert key.day is not None
        moment: datetime | None = summary.received_at if not name.startswith("SENT") else summary.date
        if moment is None:
            return False
        day = moment.date()
        return {"SINCE": day >= key.day, "BEFORE": day < key.day, "ON": day == key.day}[
            name.removeprefix("SENT")
        ]
    if name == "LARGER":
        return summary.size > key.size
    if name == "SMALLER":
        return summary.size < key.size
    if name in ("UID", "SET"):
        assert key.numbers is not None
        value = summary.uid if name == "UID" else message.sequence
        largest = message.largest_uid if name == "UID" else message.largest_sequence
        return any(low <= value <= high for low, high in key.numbers.bounds(largest))
    if name == "HEADER":
        field, _, text = key.text.partition("\n")
        return text.lower() in headers(field).lower()
    return _flag(name, summary.read, message.deleted)


def _flag(name: str, seen: bool, deleted: bool) -> bool:
    value = {
        "ALL": True, "SEEN": seen, "UNSEEN": not seen, "OLD": True, "DELETED": deleted,
        "UNDELETED": not deleted, "ANSWERED": False, "FLAGGED": False, "DRAFT": False, "RECENT": False,
        "NEW": False,
    }.get(name)  # fmt: skip
    if value is None:  # UNANSWERED, UNFLAGGED, UNDRAFT: flags nobody here ever sets
        return True
    return value
