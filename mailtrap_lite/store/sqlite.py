"""The SQLite store (``--db PATH``): durable, searchable, and fast at 100,000 messages.

WAL mode with ``synchronous=FULL``: a commit is on disk when it returns, so the SMTP ``250`` (sent when
``add`` returns) survives a crash or a power cut. All writes go through one writer process
(``sqlite_writer``) that commits whatever has queued up in one transaction; reads run on a small pool of
other connections, in threads. Nothing here runs SQL on the event loop. The writer runs the module-level
functions below by name, so they take their arguments explicitly. The schema and its migrations are in
``sqlite_schema``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mailtrap_lite.errors import StoreError
from mailtrap_lite.message import build_message
from mailtrap_lite.model import (
    Arrival,
    Envelope,
    MessageSummary,
    Page,
    Session,
    StoredMessage,
    TranscriptLine,
    pickle_as_arguments,
)
from mailtrap_lite.search import Query, required_substrings, sql_row_values, to_sql
from mailtrap_lite.store.base import Retention, StoreStats
from mailtrap_lite.store.codec import encode, session_from_json, summary_from_json
from mailtrap_lite.store.sqlite_schema import FTS_COLUMNS
from mailtrap_lite.store.sqlite_threads import ReadPool
from mailtrap_lite.store.sqlite_writer import Prepare, WriterProcess, connect, explain

R = TypeVar("R")

READERS = 3
# Deletions run in slices this big, each its own writer job, so that messages arriving meanwhile are
# committed between slices instead of waiting for a long purge.
DELETE_SLICE = 500
_TRIGRAM = 3  # the FTS5 trigram tokenizer cannot look up anything shorter
# One background indexing transaction takes this many messages, or this many of their bytes: a few
# milliseconds of work, the longest an arriving message can wait behind it.
INDEX_SLICE_MESSAGES = 32
INDEX_SLICE_BYTES = 256 * 1024


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
    """The WHERE clause of ``to_sql``, behind the full-text pre-filter when there is one."""
    sql, params = to_sql(query)
    match = fts_match(query)
    if match is None:
        return sql, params
    # Messages not indexed yet are all candidates.
    prefilter = (
        "seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? "
        "UNION ALL SELECT seq FROM messages WHERE seq > (SELECT indexed FROM counters))"
    )
    return f"{prefilter} AND {sql}", [match, *params]


def index_slice(db: sqlite3.Connection) -> bool:
    """Add the next few messages to the full-text index; returns whether more wait.

    Indexing is the costliest part of storing a small message (~270 µs of a ~600 µs write for 1 KB of
    text): done in the transaction that acknowledges the message, it kept every client waiting on it.
    It runs instead when the writer process has nothing else to do."""
    indexed = db.execute("SELECT indexed FROM counters").fetchone()[0]
    rows = db.execute(
        "SELECT seq, size FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", (indexed, INDEX_SLICE_MESSAGES)
    ).fetchall()
    if not rows:
        return False
    upto, taken = indexed, 0
    for seq, size in rows:
        upto, taken = seq, taken + size
        if taken >= INDEX_SLICE_BYTES:
            break
    db.execute(
        f"INSERT INTO messages_fts (rowid, {', '.join(FTS_COLUMNS)}) "
        f"SELECT seq, {', '.join(FTS_COLUMNS)} FROM messages WHERE seq > ? AND seq <= ?",
        (indexed, upto),
    )
    db.execute("UPDATE counters SET indexed = ?", (upto,))
    return upto != rows[-1][0] or len(rows) == INDEX_SLICE_MESSAGES


class SQLiteStore:
    kind = "sqlite"

    def __init__(self, path: Path | str, *, index_when_idle: bool = True) -> None:
        """``index_when_idle=False`` leaves the full-text index to ``index_now`` (searches are right
        either way, only slower on what is not indexed)."""
        self.path = Path(path)
        self._index_when_idle = index_when_idle
        self._writer: WriterProcess | None = None
        self._readers: ReadPool | None = None
        # Per live session: transcript lines written, and the session without lists as last written.
        self._written: dict[str, tuple[int, Session]] = {}

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def open(self) -> None:
        path = self.path
        if path.is_dir():
            raise StoreError(f"cannot use {path} as the database: it is a directory")
        if not path.parent.exists():
            raise StoreError(f"cannot create the database {path}: the directory {path.parent} does not exist")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create the database {path}: {path.parent} is not a directory")
        writer = WriterProcess(path, index_when_idle=self._index_when_idle)
        await writer.start()  # creates or migrates the database: readers open it afterwards
        try:
            self._readers = ReadPool(await asyncio.to_thread(self._open_readers))
        except BaseException:
            await writer.close()
            raise
        self._writer = writer

    def _open_readers(self) -> list[sqlite3.Connection]:
        opened: list[sqlite3.Connection] = []
        try:
            for _ in range(READERS):
                reader = connect(self.path)
                opened.append(reader)
                reader.execute("PRAGMA query_only = 1")
                reader.execute("PRAGMA mmap_size = 268435456")
            return opened
        except sqlite3.Error as error:
            for connection in opened:
                connection.close()
            raise StoreError(explain(self.path, error)) from error

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        if self._readers is not None:
            await self._readers.close()
        self._writer = self._readers = None

    def _write_side(self) -> WriterProcess:
        if self._writer is None:
            raise StoreError("the database is not open")
        return self._writer

    def _read_side(self) -> ReadPool:
        if self._readers is None:
            raise StoreError("the database is not open")
        return self._readers

    # --- messages ----------------------------------------------------------------------------------------

    async def ingest(self, arrival: Arrival) -> StoredMessage:
        # Parsed in the writer process: it keeps parsing (the largest cost of a small message after the
        # SMTP exchange itself) off the event loop's core, whatever the message's size.
        session = arrival.session
        change = self._session_change(session, delivered=True)
        summary, body_text = await self._write_changes(
            session,
            _insert_parsed,
            change,
            arrival.message_id,
            arrival.raw,
            arrival.envelope,
            arrival.eight_bit,
            prepare=_parse,
        )
        return StoredMessage(summary, arrival.raw, body_text)

    async def add(self, message: StoredMessage, session: Session) -> None:
        change = self._session_change(session, delivered=True)
        await self._write_changes(session, _insert_message, change, message)

    async def save_session(self, session: Session) -> None:
        change = self._session_change(session, delivered=bool(session.message_ids), final=True)
        await self._write_changes(session, _save_session, change)

    def _session_change(self, session: Session, *, delivered: bool, final: bool = False) -> _SessionChange:
        """What to write of ``session`` since it was last written.

        A session carrying thousands of messages is saved with each of them: rewriting its whole
        transcript and list of message ids each time would cost O(messages) per message. Only the new
        transcript lines are written, and the session's JSON only when a field other than its message ids
        changed, and when it ends; ``_load_session`` adds the ids of messages stored since.
        """
        known = self._written.pop(session.id, None) if final else self._written.get(session.id)
        bare = dataclasses.replace(session, transcript=(), message_ids=())
        start = None if known is None else known[0]
        rewrite = final or known is None or known[1] != bare
        if not final:
            self._written[session.id] = (len(session.transcript), bare)
        return _SessionChange(
            bare=bare,
            delivered=delivered,
            message_ids=session.message_ids if rewrite else None,
            lines=session.transcript[start or 0 :],
            start=start,
        )

    async def _write_changes(
        self, session: Session, work: Callable[..., R], *args: object, prepare: Prepare | None = None
    ) -> R:
        try:
            return await self._write_side().run(work, *args, prepare=prepare)
        except BaseException:
            self._written.pop(session.id, None)  # not written after all: the next save writes everything
            raise

    async def list_messages(self, query: Query | None = None, *, limit: int = 50, offset: int = 0) -> Page:
        def read(db: sqlite3.Connection) -> Page:
            db.execute("BEGIN")
            if query:
                where, params = where_clause(query)
                total, unread = db.execute(
                    f"SELECT count(*), coalesce(sum(read = 0), 0) FROM messages WHERE {where}", params
                ).fetchone()
            else:
                where, params = "1", []
                total, unread = db.execute("SELECT messages, unread FROM counters").fetchone()
            rows = db.execute(
                f"SELECT summary FROM messages WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
            db.execute("COMMIT")
            return Page(total, unread, tuple(summary_from_json(row[0]) for row in rows))

        return await self._read_side().run(read)

    async def get_summary(self, message_id: str) -> MessageSummary | None:
        row = await self._read_one("SELECT summary FROM messages WHERE id = ?", (message_id,))
        return summary_from_json(row[0]) if row else None

    async def get_raw(self, message_id: str) -> bytes | None:
        row = await self._read_one(
            "SELECT data FROM raw WHERE seq = (SELECT seq FROM messages WHERE id = ?)", (message_id,)
        )
        return bytes(row[0]) if row else None

    async def latest_id(self) -> str | None:
        row = await self._read_one("SELECT id FROM messages ORDER BY seq DESC LIMIT 1", ())
        return str(row[0]) if row else None

    async def _read_one(self, sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
        result: tuple[Any, ...] | None = await self._read_side().run(
            lambda db: db.execute(sql, params).fetchone()
        )
        return result

    async def update(
        self, message_id: str, *, read: bool | None = None, tags: tuple[str, ...] | None = None
    ) -> MessageSummary | None:
        return await self._write_side().run(_update_message, message_id, read, tags)

    async def delete(self, message_ids: list[str]) -> list[str]:
        return await self._write_side().run(_delete_ids, message_ids)

    async def delete_matching(self, query: Query | None) -> list[str]:
        if not query:
            return await self._write_side().run(_clear)
        where, params = where_clause(query)

        def matching(db: sqlite3.Connection) -> list[tuple[int, str]]:
            sql = f"SELECT seq, id FROM messages WHERE {where} ORDER BY seq DESC"
            return [(int(seq), str(id_)) for seq, id_ in db.execute(sql, params)]

        found = await self._read_side().run(matching)
        deleted: list[str] = []
        for start in range(0, len(found), DELETE_SLICE):
            deleted += await self._delete_rows(found[start : start + DELETE_SLICE])
        return deleted

    async def _delete_rows(self, rows: list[tuple[int, str]]) -> list[str]:
        """Delete these (seq, id) rows in one writer job; returns the ids that were still there."""
        return await self._write_side().run(_delete_seqs, rows)

    # --- sessions ----------------------------------------------------------------------------------------

    async def list_sessions(self, *, limit: int = 50, offset: int = 0) -> tuple[int, list[Session]]:
        def read(db: sqlite3.Connection) -> tuple[int, list[Session]]:
            db.execute("BEGIN")
            total = db.execute("SELECT sessions FROM counters").fetchone()[0]
            rows = db.execute(
                "SELECT seq, data FROM sessions ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
            sessions = [_load_session(db, seq, data) for seq, data in rows]
            db.execute("COMMIT")
            return int(total), sessions

        return await self._read_side().run(read)

    async def get_session(self, session_id: str) -> Session | None:
        def read(db: sqlite3.Connection) -> Session | None:
            db.execute("BEGIN")
            row = db.execute("SELECT seq, data FROM sessions WHERE id = ?", (session_id,)).fetchone()
            return _load_session(db, row[0], row[1]) if row else None

        return await self._read_side().run(read)

    # --- retention and statistics ------------------------------------------------------------------------

    async def prune(self, retention: Retention) -> list[str]:
        cutoff = None if retention.max_age_seconds is None else time.time() - retention.max_age_seconds
        pruned: list[str] = []
        while True:
            doomed = await self._read_side().run(lambda db: _oldest_beyond(db, retention, cutoff))
            if not doomed:
                break
            pruned += await self._delete_rows(doomed)
        await self._write_side().run(_prune_sessions, retention)
        return pruned

    async def index_now(self) -> None:
        """Bring the full-text index up to date now rather than when the writer is next idle."""
        while await self._write_side().run(index_slice):
            pass

    async def stats(self) -> StoreStats:
        def read(db: sqlite3.Connection) -> tuple[int, ...]:
            row = db.execute(
                "SELECT messages, unread, sessions, bytes, "
                "(SELECT count(*) FROM messages WHERE seq > indexed) FROM counters"
            ).fetchone()
            return tuple(int(value) for value in row)

        messages, unread, sessions, size, unindexed = await self._read_side().run(read)
        writable = self._writer is not None and self._writer.running
        return StoreStats(
            self.kind,
            messages,
            unread,
            sessions,
            size,
            db_size=self._db_size(),
            unindexed=unindexed,
            writable=writable,
        )

    def _db_size(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total


@pickle_as_arguments  # it crosses to the writer process with every message
@dataclasses.dataclass(frozen=True, slots=True)
class _SessionChange:
    bare: Session  # without transcript and message ids
    delivered: bool
    message_ids: tuple[str, ...] | None  # set when the session's row has to be rewritten
    lines: Sequence[TranscriptLine]  # transcript lines not written yet; all of them when start is None
    start: int | None  # the number of the first of them; None: look it up


def _parse(
    change: _SessionChange, message_id: str, raw: bytes, envelope: Envelope, eight_bit: bool
) -> tuple[_SessionChange, StoredMessage]:
    return change, build_message(message_id, raw, envelope, change.bare.id, eight_bit)


def _insert_parsed(
    db: sqlite3.Connection, change: _SessionChange, stored: StoredMessage
) -> tuple[MessageSummary, str]:
    _insert_message(db, change, stored)
    return stored.summary, stored.body_text


def _insert_message(db: sqlite3.Connection, change: _SessionChange, message: StoredMessage) -> None:
    _save_session(db, change)
    row = sql_row_values(message.summary, message.body_text)
    row["session_id"] = message.summary.session_id
    row["summary"] = encode(message.summary)
    cursor = db.execute(
        f"INSERT INTO messages ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
    )
    db.execute("INSERT INTO raw (seq, data) VALUES (?, ?)", (cursor.lastrowid, message.raw))


def _update_message(
    db: sqlite3.Connection, message_id: str, read: bool | None, tags: tuple[str, ...] | None
) -> MessageSummary | None:
    row = db.execute("SELECT summary FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    summary = summary_from_json(row[0])
    if read is not None:
        summary = dataclasses.replace(summary, read=read)
    if tags is not None:
        summary = dataclasses.replace(summary, tags=tags)
    columns = sql_row_values(summary, "")
    db.execute(
        "UPDATE messages SET read = ?, tags_text = ?, summary = ? WHERE id = ?",
        (columns["read"], columns["tags_text"], encode(summary), message_id),
    )
    return summary


def _delete_ids(db: sqlite3.Connection, message_ids: list[str]) -> list[str]:
    return [
        message_id
        for message_id in message_ids
        if db.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount
    ]


def _delete_seqs(db: sqlite3.Connection, rows: list[tuple[int, str]]) -> list[str]:
    marks = ", ".join("?" * len(rows))
    deleted = db.execute(
        f"DELETE FROM messages WHERE seq IN ({marks}) RETURNING seq", [seq for seq, _ in rows]
    )
    gone = {row[0] for row in deleted}
    return [id_ for seq, id_ in rows if seq in gone]


def _save_session(db: sqlite3.Connection, change: _SessionChange) -> None:
    found = None
    session_id, delivered = change.bare.id, int(change.delivered)
    if change.message_ids is None:
        found = db.execute(
            "UPDATE sessions SET delivered = ? WHERE id = ? RETURNING seq", (delivered, session_id)
        ).fetchone()
    if found is None:  # a new session, a changed one, or one pruned meanwhile
        whole = change.bare
        if change.message_ids is not None:
            whole = dataclasses.replace(whole, message_ids=change.message_ids)
        found = db.execute(
            "INSERT INTO sessions (id, delivered, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "delivered = excluded.delivered, data = excluded.data RETURNING seq",
            (session_id, delivered, encode(whole)),
        ).fetchone()
    seq = found[0]
    lines, start = change.lines, change.start
    if start is None:  # lines is the whole transcript: skip what is stored already
        last = db.execute("SELECT max(n) FROM transcripts WHERE session_seq = ?", (seq,)).fetchone()[0]
        start = 0 if last is None else last + 1
        lines = lines[start:]
    rows = [(seq, n, line.t_ms, line.dir, line.line, line.fault_id) for n, line in enumerate(lines, start)]
    db.executemany("INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, ?)", rows)


def _load_session(db: sqlite3.Connection, seq: int, data: str) -> Session:
    rows = db.execute(
        "SELECT t_ms, dir, line, fault_id FROM transcripts WHERE session_seq = ? ORDER BY n", (seq,)
    )
    session = session_from_json(data)
    transcript = tuple(TranscriptLine(*row) for row in rows)
    # Messages stored since the session's JSON was last written (see SQLiteStore._session_change).
    known = set(session.message_ids)
    later = tuple(
        str(row[0])
        for row in db.execute("SELECT id FROM messages WHERE session_id = ? ORDER BY seq", (session.id,))
        if row[0] not in known
    )
    return dataclasses.replace(session, transcript=transcript, message_ids=session.message_ids + later)


def _clear(db: sqlite3.Connection) -> list[str]:
    """Delete every message, newest first; returns their ids."""
    ids = [str(row[0]) for row in db.execute("SELECT id FROM messages ORDER BY seq DESC")]
    db.execute("UPDATE counters SET clearing = 1")
    db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
    db.execute("DELETE FROM messages")
    db.execute("UPDATE counters SET clearing = 0")
    return ids


def _oldest_beyond(
    db: sqlite3.Connection, retention: Retention, cutoff: float | None
) -> list[tuple[int, str]]:
    """The next slice of messages that retention drops, oldest first."""
    if cutoff is not None:
        rows = db.execute(
            "SELECT seq, id FROM messages WHERE received_at < ? ORDER BY received_at, seq LIMIT ?",
            (cutoff, DELETE_SLICE),
        ).fetchall()
        if rows:
            return [(int(seq), str(id_)) for seq, id_ in rows]
    if retention.max_messages is None:
        return []
    excess = db.execute("SELECT messages FROM counters").fetchone()[0] - retention.max_messages
    if excess <= 0:
        return []
    rows = db.execute(
        "SELECT seq, id FROM messages ORDER BY seq LIMIT ?", (min(excess, DELETE_SLICE),)
    ).fetchall()
    return [(int(seq), str(id_)) for seq, id_ in rows]


def _prune_sessions(db: sqlite3.Connection, retention: Retention) -> None:
    # Sessions go with their messages; sessions that delivered nothing are kept up to the same count.
    db.execute("DELETE FROM sessions WHERE delivered = 1 AND live = 0")
    if retention.max_messages is None:
        return
    empty = db.execute("SELECT count(*) FROM sessions WHERE delivered = 0").fetchone()[0]
    if empty > retention.max_messages:
        db.execute(
            "DELETE FROM sessions WHERE seq IN "
            "(SELECT seq FROM sessions WHERE delivered = 0 ORDER BY seq LIMIT ?)",
            (empty - retention.max_messages,),
        )
