"""The PostgreSQL store's helpers, free of state: what a ``--db`` URL is, opening a connection and saying
in one line why it failed, and a search query as SQL over the schema of ``postgres_schema``.

Connections go through libpq, so the password comes from the URL, ``PGPASSWORD`` or a ``.pgpass`` file,
and the other ``PG*`` variables apply as they do for ``psql``.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from mailtrap_lite.errors import StoreError, StoreUnavailable
from mailtrap_lite.search import Query, required_substrings, sql_row_values, to_sql
from mailtrap_lite.store.postgres_schema import NUL, TRIGRAM_COLUMNS, TRIGRAM_TEXT

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT = 10  # seconds; libpq's default is to wait forever
_TRIGRAM = 3  # pg_trgm cannot look up anything shorter
_INSTR = re.compile(r"instr\((\w+), \?\) > 0")


def is_postgres_url(text: str) -> bool:
    return text.startswith(SCHEMES)


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database (unreadable URL)"
    params.pop("password", None)
    where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
    return f"PostgreSQL database {params.get('dbname', params.get('user', ''))} on {where}"


def conninfo(url: str, application: str) -> str:
    try:
        return make_conninfo(url, connect_timeout=CONNECT_TIMEOUT, application_name=application)
    except psycopg.ProgrammingError as error:
        raise StoreError(f"cannot use the --db URL: {error}") from error


async def connect(info: str, where: str, *, autocommit: bool = False) -> AsyncConnection[Any]:
    try:
        return await AsyncConnection.connect(info, autocommit=autocommit)
    except psycopg.OperationalError as error:
        raise StoreUnavailable(explain(where, error)) from error


def explain(where: str, error: psycopg.Error) -> str:
    """One line saying why ``where`` cannot be used."""
    text = " ".join(str(error).split())
    if "password authentication failed" in text or "no password supplied" in text:
        return f"{where} refused the login: {text} (set the password in PGPASSWORD or ~/.pgpass)"
    if "does not exist" in text:
        return f"cannot open {where}: {text}"
    if "Connection refused" in text or "timeout" in text or "could not translate host" in text:
        return f"cannot reach {where}: {text}"
    return f"cannot use {where}: {text}"


def unavailable(error: psycopg.Error, where: str) -> StoreError:
    """The error to raise for a failed statement: a lost connection is an outage, anything else a bug in
    the making that the caller should see as it is."""
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return StoreUnavailable(f"lost the connection to {where}: {' '.join(str(error).split())}")
    return StoreError(f"{where}: {' '.join(str(error).split())}")


def text_safe(value: str) -> str:
    return value.replace("\x00", NUL)


def row_values(summary: Any, body_text: str) -> dict[str, object]:
    """``search.sql_row_values`` as PostgreSQL can store it (no NUL in text)."""
    row = sql_row_values(summary, body_text)
    return {key: text_safe(value) if isinstance(value, str) else value for key, value in row.items()}


def _like(needle: str) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def where_clause(query: Query, *, trigrams: bool) -> tuple[str, list[object]]:
    """``search.to_sql``'s WHERE clause in PostgreSQL's terms, behind the trigram pre-filter when the
    index exists: for each positive substring term, the needle must occur in the indexed text."""
    where, params = to_sql(query)
    where = _INSTR.sub(r"strpos(\1, %s) > 0", where).replace("?", "%s")
    params = [text_safe(value) if isinstance(value, str) else value for value in params]
    if not trigrams:
        return where, params
    needles = [
        needle
        for columns, needle in required_substrings(query)
        if len(needle) >= _TRIGRAM and set(columns) <= set(TRIGRAM_COLUMNS)
    ]
    if not needles:
        return where, params
    prefilter = " AND ".join(f"{TRIGRAM_TEXT} LIKE %s" for _ in needles)
    return f"{prefilter} AND {where}", [*(_like(text_safe(n)) for n in needles), *params]
