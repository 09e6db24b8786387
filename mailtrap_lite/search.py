"""The query language (the API's ``q`` parameter): parsing, in-memory matching, and the same filter as SQL.

Grammar. A query is whitespace-separated terms, all ANDed. A term is a free word, a ``"quoted phrase"``
or ``field:value`` where the value is a word or a quoted phrase (``subject:"your order"``); a leading
``-`` negates it (``-from:spam``, ``-"phrase"``). Inside quotes ``\\"`` and ``\\\\`` escape; a ``"``
always opens a phrase, so ``foo"bar baz"`` is the word ``foo`` and the phrase ``bar baz``. A lone ``-``
is the free word ``-``. ``name:value`` is a field term when ``name`` is letters and hyphens (case does
not matter); an unknown such name is an error, except a URL (``http://x``) which is a free word, as is
anything else with a colon (``12:30``, ``a1:b``).

Matching. Text is compared lowercased with whitespace runs collapsed to one space, on both sides, so
``"hello world"`` matches ``Hello\\n  World`` in a body. Free words and phrases are substrings of the
subject, From/To/Cc/Bcc (``name <address>``), the envelope sender, the accepted envelope recipients or
the body text. ``from: to: cc: subject: rcpt: mail-from: warning:`` are substrings of one column;
``mailbox:`` and ``tag:`` are exact (case-insensitive); ``has:attachment``, ``has:warning``,
``is:read``, ``is:unread``, ``is:tagged`` (any tag), ``is:untagged``. ``larger:N`` is size > N,
``smaller:N`` size < N; N is ``500``, ``10k``, ``2mb``... (units b, k, kb, m, mb, g, gb; 1k = 1024).
Dates are ``YYYY-MM-DD`` (midnight UTC), an RFC 3339 date-time (no offset means UTC) or an age
``30s 30m 2h 7d 1w`` (that long before ``now``). ``before:D`` is received_at < D and ``after:D`` is
received_at >= D, as in Gmail: ``after:2026-11-26`` includes the whole of that day and
``after:D before:E`` is the half-open range [D, E).

Errors raise ``QueryError`` naming the problem and its 0-based position in the text. A query is at most
``MAX_QUERY_CHARS`` characters and ``MAX_QUERY_TERMS`` terms: matching costs time on the event loop in
proportion to both, and SQLite refuses a WHERE clause past its expression-depth limit.

SQL. ``to_sql`` filters this table (a store may add columns, e.g. the summary JSON and the raw bytes);
every text column holds the normalised text that ``sql_row_values`` computes, never NULL:

    CREATE TABLE messages (
        id TEXT PRIMARY KEY, mailbox TEXT NOT NULL,
        received_at REAL NOT NULL,              -- POSIX seconds
        size INTEGER NOT NULL, read INTEGER NOT NULL,      -- read: 0 or 1
        subject TEXT NOT NULL,
        from_text TEXT NOT NULL, to_text TEXT NOT NULL,    -- 'name <address>' or '<address>'
        cc_text TEXT NOT NULL, bcc_text TEXT NOT NULL,     -- one address a line
        mail_from TEXT NOT NULL,                -- envelope sender ('' for the null sender)
        rcpt_text TEXT NOT NULL,                -- accepted envelope recipients, one a line
        attachments INTEGER NOT NULL,           -- a count
        tags_text TEXT NOT NULL,                -- '\\n' + '\\n'.join(tags) + '\\n', or '' untagged
        warnings_text TEXT NOT NULL,            -- warning codes, one a line
        body_text TEXT NOT NULL
    )

(``SEARCH_COLUMNS_DDL`` is that column list.) Address lists are ``'\\n'``-joined; needles never hold a
newline, so no match spans two addresses. Lowercasing happens in Python because SQLite's ``lower()``
folds ASCII only; the SQL then uses plain ``instr(col, ?) > 0``. So ``mailbox`` is lowercased too:
show mailbox names from the summary, not from this column. An FTS5 index may later pre-filter, as long
as this WHERE clause still decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.model import Address, MessageSummary

__all__ = [
    "FIELDS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "SEARCH_COLUMNS_DDL",
    "Query",
    "QueryError",
    "Term",
    "compile",
    "flag_row_values",
    "matches",
    "parse_query",
    "required_substrings",
    "required_tags",
    "sql_row_values",
    "tag_key",
    "to_sql",
    "with_mailbox",
]


MAX_QUERY_CHARS = 4096
MAX_QUERY_TERMS = 64


class QueryError(BadRequest, ValueError):
    """A malformed query (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Term:
    """One condition. ``field`` is None for free words and phrases; ``value`` is normalised (lowercased,
    whitespace collapsed; canonical for ``has:``/``is:``); ``number`` is bytes for ``larger:``/``smaller:``
    and a POSIX timestamp for ``before:``/``after:``."""

    field: str | None
    value: str
    negated: bool = False
    number: float | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """Terms that must all hold, and the text they were parsed from. False when it has no terms."""

    terms: tuple[Term, ...] = ()
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.terms)


SEARCH_COLUMNS_DDL = (
    "id TEXT PRIMARY KEY, mailbox TEXT NOT NULL, received_at REAL NOT NULL, size INTEGER NOT NULL, "
    "read INTEGER NOT NULL, subject TEXT NOT NULL, from_text TEXT NOT NULL, to_text TEXT NOT NULL, "
    "cc_text TEXT NOT NULL, bcc_text TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_text TEXT NOT NULL, "
    "attachments INTEGER NOT NULL, tags_text TEXT NOT NULL, warnings_text TEXT NOT NULL, "
    "body_text TEXT NOT NULL"
)

_SUBSTRING_COLUMNS = {
    "from": "from_text",
    "to": "to_text",
    "cc": "cc_text",
    "subject": "subject",
    "rcpt": "rcpt_text",
    "mail-from": "mail_from",
    "warning": "warnings_text",
}
_ADDRESS_COLUMNS = ("from_text", "to_text", "cc_text", "bcc_text", "mail_from", "rcpt_text")
# body_text last: it is the long one, and the search stops at the first column that holds the needle.
_FREE_COLUMNS = ("subject", *_ADDRESS_COLUMNS, "body_text")
_CHOICES = {
    "has": {
        "attachment": "attachment",
        "attachments": "attachment",
        "warning": "warning",
        "warnings": "warning",
    },
    "is": {"read": "read", "unread": "unread", "tagged": "tagged", "untagged": "untagged"},
}
FIELDS = frozenset(
    [*_SUBSTRING_COLUMNS, "mailbox", "tag", "has", "is", "before", "after", "larger", "smaller"]
)
_KNOWN = ", ".join(sorted(FIELDS))

_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z-]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:\d{2})?")
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([kmg]?)b?")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

_Row = Mapping[str, Any]
_Pred = Callable[[_Row], bool]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


# ---- parsing ------------------------------------------------------------------------------------------


def parse_query(text: str | None, *, now: datetime | None = None) -> Query:
    """Parse ``q``; ``now`` anchors relative dates (``2h``) and defaults to the current time."""
    if text is None:
        return Query()
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query too long: {len(text)} characters (at most {MAX_QUERY_CHARS})")
    moment = _as_utc(now) if now is not None else datetime.now(UTC)
    terms: list[Term] = []
    for pos, negated, field, raw in _tokens(text):
        if len(terms) == MAX_QUERY_TERMS:
            raise QueryError(f"too many terms: the term at position {pos} is over {MAX_QUERY_TERMS}")
        terms.append(_make_term(pos, negated, field, raw, moment))
    return Query(tuple(terms), text)


def _tokens(text: str) -> Iterator[tuple[int, bool, str | None, str]]:
    """Yield (position, negated, field or None, raw value) for each term."""
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, negated = i, False
        if text[i] == "-" and i + 1 < n and not text[i + 1].isspace():
            negated, i = True, i + 1
        if text[i] == '"':
            value, i = _read_quoted(text, i)
            yield start, negated, None, value
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        word = text[i:j]
        name, colon, rest = word.partition(":")
        if colon and _FIELD_NAME.fullmatch(name) and (name.lower() in FIELDS or not rest.startswith("//")):
            field = name.lower()
            if field not in FIELDS:
                raise QueryError(
                    f"unknown field '{name}' at position {start} (known: {_KNOWN}; "
                    f"quote it to search for the text)"
                )
            if not rest and j < n and text[j] == '"':
                rest, j = _read_quoted(text, j)
            yield start, negated, field, rest
        else:
            yield start, negated, None, word
        i = j


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the phrase whose opening quote is at ``start``; return it and the index after its close."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise QueryError(f"unterminated quote at position {start}")


def _make_term(pos: int, negated: bool, field: str | None, raw: str, now: datetime) -> Term:
    value = _norm(raw)
    if field is None:
        if not value:
            raise QueryError(f"empty phrase at position {pos}")
        return Term(None, value, negated)
    if not value:
        raise QueryError(f"empty value for '{field}:' at position {pos}")
    if field in _CHOICES:
        canonical = _CHOICES[field].get(value)
        if canonical is None:
            known = ", ".join(sorted(set(_CHOICES[field].values())))
            raise QueryError(f"unknown value '{raw}' for '{field}:' at position {pos} (known: {known})")
        return Term(field, canonical, negated)
    if field in ("before", "after"):
        return Term(field, value, negated, _parse_date(value, field, pos, now))
    if field in ("larger", "smaller"):
        return Term(field, value, negated, _parse_size(value, field, pos))
    return Term(field, value, negated)


def _parse_date(value: str, field: str, pos: int, now: datetime) -> float:
    try:
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        if _DATETIME.fullmatch(value):
            return _as_utc(datetime.fromisoformat(value.upper())).timestamp()
        age = _AGE.fullmatch(value)
        if age:
            seconds = float(age.group(1)) * _AGE_UNITS[age.group(2)]
            return (now - timedelta(seconds=seconds)).timestamp()
    except (ValueError, OverflowError):
        pass
    raise QueryError(
        f"bad date '{value}' for '{field}:' at position {pos} (expected YYYY-MM-DD, an RFC 3339 "
        f"date-time, or an age such as 30m, 2h, 7d)"
    )


def _parse_size(value: str, field: str, pos: int) -> float:
    size = _SIZE.fullmatch(value)
    if size is None:
        raise QueryError(
            f"bad size '{value}' for '{field}:' at position {pos} (expected bytes or a unit: "
            f"500, 10k, 2mb, 1gb)"
        )
    return float(size.group(1)) * _SIZE_UNITS[size.group(2)]


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def with_mailbox(query: Query | None, mailbox: str | None) -> Query | None:
    """AND an exact ``mailbox:`` term (for the ``mailbox=`` HTTP parameter); unchanged when no mailbox."""
    if not mailbox:
        return query
    term = Term("mailbox", _norm(mailbox))
    if query is None:
        return Query((term,))
    return Query((*query.terms, term), query.text)


# ---- evaluation: the SQL fragment and the Python predicate of a term, side by side ---------------------


class _Parts(NamedTuple):
    sql: str
    params: list[object]
    pred: _Pred
    columns: tuple[str, ...]  # what ``pred`` reads


def _term_parts(term: Term) -> _Parts:
    parts = _positive_parts(term)
    if term.negated:
        pred = parts.pred
        return parts._replace(sql=f"NOT ({parts.sql})", pred=lambda row: not pred(row))
    return parts


def _positive_parts(term: Term) -> _Parts:
    field, value, number = term.field, term.value, term.number
    if field is None:

        def any_column(row: _Row) -> bool:
            return any(value in row[column] for column in _FREE_COLUMNS)

        sql = "(" + " OR ".join(f"instr({c}, ?) > 0" for c in _FREE_COLUMNS) + ")"
        return _Parts(sql, [value] * len(_FREE_COLUMNS), any_column, _FREE_COLUMNS)
    if field in _SUBSTRING_COLUMNS:
        col = _SUBSTRING_COLUMNS[field]
        return _Parts(f"instr({col}, ?) > 0", [value], lambda row: value in row[col], (col,))
    if field == "tag":
        needle = f"\n{value}\n"
        return _Parts(
            "instr(tags_text, ?) > 0", [needle], lambda row: needle in row["tags_text"], ("tags_text",)
        )
    if field == "mailbox" and "," in value:  # any of several mailboxes (names never hold a comma)
        names = sorted({name.strip() for name in value.split(",")})
        sql = f"mailbox IN ({', '.join('?' * len(names))})"
        return _Parts(sql, list(names), lambda row: row["mailbox"] in names, ("mailbox",))
    if field == "mailbox":
        return _Parts("mailbox = ?", [value], lambda row: bool(row["mailbox"] == value), ("mailbox",))
    if field == "has" and value == "attachment":
        return _Parts("attachments > 0", [], lambda row: bool(row["attachments"] > 0), ("attachments",))
    if field == "has" and value == "warning":
        return _Parts("warnings_text != ''", [], lambda row: row["warnings_text"] != "", ("warnings_text",))
    if field == "is" and value in ("tagged", "untagged"):
        op = "!=" if value == "tagged" else "="
        tagged = value == "tagged"
        return _Parts(
            f"tags_text {op} ''", [], lambda row: (row["tags_text"] != "") == tagged, ("tags_text",)
        )
    if field == "is" and value in ("read", "unread"):
        flag = int(value == "read")
        return _Parts("read = ?", [flag], lambda row: bool(row["read"] == flag), ("read",))
    if number is not None and field in ("before", "after", "larger", "smaller"):
        col = "received_at" if field in ("before", "after") else "size"
        if field == "after":
            return _Parts(f"{col} >= ?", [number], lambda row: bool(row[col] >= number), (col,))
        if field == "larger":
            return _Parts(f"{col} > ?", [number], lambda row: bool(row[col] > number), (col,))
        return _Parts(f"{col} < ?", [number], lambda row: bool(row[col] < number), (col,))
    raise QueryError(f"cannot evaluate the term {field}:{value!r}")


def to_sql(query: Query) -> tuple[str, list[object]]:
    """A WHERE fragment over the ``messages`` table (see the module docstring) and its parameters."""
    if not query.terms:
        return "(1=1)", []
    clauses: list[str] = []
    params: list[object] = []
    for term in query.terms:
        parts = _term_parts(term)
        clauses.append(parts.sql)
        params.extend(parts.params)
    return "(" + " AND ".join(clauses) + ")", params


def required_substrings(query: Query) -> list[tuple[tuple[str, ...], str]]:
    """For each positive substring term, the columns one of which must contain its value.

    What a full-text index may pre-filter on; ``to_sql``'s WHERE clause still decides."""
    needed: list[tuple[tuple[str, ...], str]] = []
    for term in query.terms:
        if term.negated:
            continue
        if term.field is None:
            needed.append((_FREE_COLUMNS, term.value))
        elif term.field in _SUBSTRING_COLUMNS:
            needed.append(((_SUBSTRING_COLUMNS[term.field],), term.value))
    return needed


def required_tags(query: Query) -> list[str]:
    """The tags (normalised) that every match of ``query`` carries: what a tag index may pre-filter on."""
    return [term.value for term in query.terms if term.field == "tag" and not term.negated]


@lru_cache(maxsize=128)
def _plan(query: Query) -> tuple[_Pred, tuple[str, ...]]:
    # Field terms first: they are cheap, and most fail before a body is scanned.
    parts = [_term_parts(term) for term in sorted(query.terms, key=lambda term: term.field is None)]
    preds = [p.pred for p in parts]

    def match(row: _Row) -> bool:
        return all(pred(row) for pred in preds)

    return match, tuple(dict.fromkeys(column for p in parts for column in p.columns))


def compile(query: Query) -> Callable[[Mapping[str, object]], bool]:
    """The query as a predicate over ``sql_row_values`` rows; compile once, call per message."""
    return _plan(query)[0]


def _address_text(addresses: Iterable[Address | None]) -> str:
    return "\n".join(_norm(f"{a.name} <{a.address}>" if a.name else f"<{a.address}>") for a in addresses if a)


def tag_key(tag: str) -> str:
    """A tag as ``tag:`` compares it (lower-cased, whitespace collapsed): what a tag index keys on."""
    return _norm(tag)


def _tags_text(tags: tuple[str, ...]) -> str:
    kept = [t for t in map(_norm, tags) if t]
    return "\n" + "\n".join(kept) + "\n" if kept else ""


# One function per column, shared by sql_row_values and matches so the two stores cannot drift apart.
_COLUMNS: dict[str, Callable[[MessageSummary, str], object]] = {
    "id": lambda s, body: s.id,
    "mailbox": lambda s, body: _norm(s.mailbox),
    "received_at": lambda s, body: _as_utc(s.received_at).timestamp(),
    "size": lambda s, body: s.size,
    "read": lambda s, body: int(s.read),
    "subject": lambda s, body: _norm(s.subject),
    "from_text": lambda s, body: _address_text([s.from_]),
    "to_text": lambda s, body: _address_text(s.to),
    "cc_text": lambda s, body: _address_text(s.cc),
    "bcc_text": lambda s, body: _address_text(s.bcc),
    "mail_from": lambda s, body: _norm(s.envelope.mail_from),
    "rcpt_text": lambda s, body: "\n".join(map(_norm, s.envelope.accepted)),
    "attachments": lambda s, body: s.attachments,
    "tags_text": lambda s, body: _tags_text(s.tags),
    "warnings_text": lambda s, body: "\n".join(_norm(w.code) for w in s.warnings),
    "body_text": lambda s, body: _norm(body),
}


def sql_row_values(summary: MessageSummary, body_text: str) -> dict[str, object]:
    """The ``messages`` columns for one message: what both stores search over."""
    return {name: column(summary, body_text) for name, column in _COLUMNS.items()}


def flag_row_values(summary: MessageSummary) -> dict[str, object]:
    """The ``messages`` columns that change after ingest (the read flag and the tags)."""
    return {"read": int(summary.read), "tags_text": _tags_text(summary.tags)}


def matches(query: Query, summary: MessageSummary, body_text: str) -> bool:
    """Whether one message matches; computes only the columns the query reads.

    To search many messages, keep each one's ``sql_row_values`` and run ``compile(query)`` over them:
    free words otherwise re-normalise every body on every search."""
    if not query.terms:
        return True
    pred, columns = _plan(query)
    return pred({name: _COLUMNS[name](summary, body_text) for name in columns})
