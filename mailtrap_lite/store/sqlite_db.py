"""The SQLite store's database helpers, free of state: opening a connection (the server's readers and the
writer process both do), explaining a failure to open one, and a search query as SQL over the schema of
``sqlite_schema``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailtrap_lite.search import Query, required_substrings, required_tags, to_sql
from mailtrap_lite.store.sqlite_schema import FTS_COLUMNS

_TRIGRAM = 3  # the FTS5 trigram tokenizer cannot look up anything shorter


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 5000")
    return connection


def explain(path: Path, error: sqlite3.Error) -> str:
    text = str(error)
    if "not a database" in text:
        return f"{path} is not a usable SQLite database ({text}: corrupt, or another kind of file)"
    if "malformed" in text:
        return f"the database {path} is corrupt ({text})"
    if "unable to open" in text:
        return f"cannot open the database {path}: {text} (is its directory writable?)"
    if "readonly" in text:
        return f"cannot write the database {path}: it is read-only"
    if "locked" in text:
        return f"the database {path} is locked: is another mailtrap-lite using it?"
    return f"cannot open the database {path}: {text}"


def fts_match(query: Query) -> str | None:
    """An FTS5 expression that every match of ``query`` satisfies (None when the index cannot help).

    The index has no positions, so a needle becomes the AND of trigrams it contains (every third one
    and the last): a message holding the needle holds them all. Column filters need positions too, so a
    field term asks for its trigrams anywhere in the message; the WHERE clause then decides."""
    trigrams: dict[str, None] = {}
    for columns, needle in required_substrings(query):
        if len(needle) < _TRIGRAM or "\x00" in needle or not set(columns) <= set(FTS_COLUMNS):
            continue
        starts = [*range(0, len(needle) - _TRIGRAM + 1, _TRIGRAM), len(needle) - _TRIGRAM]
        trigrams.update(dict.fromkeys(needle[i : i + _TRIGRAM] for i in starts))
    return " AND ".join('"' + trigram.replace('"', '""') + '"' for trigram in trigrams) or None


def where_clause(query: Query) -> tuple[str, list[object]]:
    """The WHERE clause of ``to_sql``, behind the tag index and the full-text pre-filter when they apply."""
    sql, params = to_sql(query)
    for tag in required_tags(query):
        sql = f"seq IN (SELECT seq FROM message_tags WHERE tag = ?) AND {sql}"
        params = [tag, *params]
    match = fts_match(query)
    if match is None:
        return sql, params
    # Messages not indexed yet are all candidates.
    prefilter = (
        "seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? "
        "UNION ALL SELECT seq FROM messages WHERE seq > (SELECT indexed FROM counters))"
    )
    return f"{prefilter} AND {sql}", [match, *params]
