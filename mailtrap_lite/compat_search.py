"""Mailpit's and MailHog's search requests, read as mailtrap-lite queries (``search.py``).

Mailpit. A query is whitespace-separated terms; double quotes group words into one term and are dropped
(``"hello world"``, ``subject:"your order"``). A leading ``-`` or ``!`` negates a term. ``from: to: cc:
subject: tag: before: after: larger: smaller:`` are our fields of the same name, ``bcc:`` is ``rcpt:``
(we know a Bcc recipient only from the envelope), ``is:`` and ``has:`` pass through (``is:read``,
``is:unread``, ``has:attachment``...), and any other word is free text, as in Mailpit (so ``12:30`` and
``foo:bar`` are searched for as they stand). Mailpit's ``reply-to:``, ``addressed:``, ``message-id:``
have no counterpart here and are refused (``QueryError``) rather than silently widened. A date without an
offset is midnight (or that time) in the ``tz`` time zone when one is given, else UTC. A term without a
letter or digit is ignored, as Mailpit ignores it.

MailHog. ``kind=from`` is the envelope sender (``mail-from:``), ``kind=to`` any envelope recipient
(``rcpt:``), ``kind=containing`` free text (subject, addresses and body); an empty query matches all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.search import Query, QueryError, parse_query

__all__ = ["MAILHOG_KINDS", "mailhog_query", "mailpit_query", "mailpit_text", "time_zone"]

_FIELDS = {
    "from": "from",
    "to": "to",
    "cc": "cc",
    "bcc": "rcpt",
    "subject": "subject",
    "tag": "tag",
    "before": "before",
    "after": "after",
    "larger": "larger",
    "smaller": "smaller",
    "is": "is",
    "has": "has",
}
_REFUSED = ("reply-to", "addressed", "message-id")
_DATED = frozenset({"before", "after"})
_FIELD = re.compile(r"([a-z][a-z-]*):(.*)", re.DOTALL)
_ALNUM = re.compile(r"[A-Za-z0-9]")
_LOCAL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?", re.IGNORECASE)

MAILHOG_KINDS = {"from": "mail-from", "to": "rcpt", "containing": None}


def time_zone(name: str | None) -> ZoneInfo | None:
    """Mailpit's ``tz`` parameter: an IANA time zone name, or None when absent."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"unknown time zone {name!r} for tz (expected e.g. Europe/Paris)") from None


def _mailpit_terms(text: str) -> Iterator[str]:
    """Split as Mailpit does: whitespace outside double quotes ends a term; the quotes are dropped."""
    term: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            if term:
                yield "".join(term)
            term = []
        else:
            term.append(char)
    if term:
        yield "".join(term)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dated(value: str, zone: ZoneInfo | None) -> str:
    if zone is None or not _LOCAL_DATE.fullmatch(value):
        return value
    return datetime.fromisoformat(value.upper()).replace(tzinfo=zone).isoformat()


def mailpit_text(text: str, zone: ZoneInfo | None = None) -> str:
    """A Mailpit search as the text of one of our queries."""
    ours: list[str] = []
    for term in _mailpit_terms(text):
        negated = len(term) > 1 and term[0] in "-!"
        if negated:
            term = term[1:]
        if not _ALNUM.search(term):
            continue
        sign = "-" if negated else ""
        field = _FIELD.fullmatch(term)
        name = field.group(1).lower() if field else ""
        if field and name in _REFUSED:
            raise QueryError(f"{name}: is not supported here (use from:, to:, cc:, subject: or words)")
        if field is None or name not in _FIELDS:
            ours.append(sign + _quote(term))
            continue
        value = field.group(2).strip()
        if not value:
            continue
        if name in _DATED:
            value = _dated(value, zone)
        ours.append(f"{sign}{_FIELDS[name]}:{_quote(value)}")
    return " ".join(ours)


def _parsed(ours: str, theirs: str, product: str) -> Query | None:
    try:
        query = parse_query(ours)
    except QueryError as error:
        raise QueryError(f"{error}, in the {product} query {theirs!r} read as {ours!r}") from None
    return query if query else None


def mailpit_query(text: str | None, zone: ZoneInfo | None = None) -> Query | None:
    """A Mailpit search as our query; None (everything) when it has no terms."""
    return _parsed(mailpit_text(text or "", zone), text or "", "Mailpit")


def mailhog_query(kind: str, text: str) -> Query | None:
    """A MailHog search (``kind`` from, to or containing) as our query; None when ``text`` is blank."""
    if kind not in MAILHOG_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(MAILHOG_KINDS)}, got {kind!r}")
    if not text.strip():
        return None
    field = MAILHOG_KINDS[kind]
    ours = _quote(text) if field is None else f"{field}:{_quote(text)}"
    return _parsed(ours, text, "MailHog")
