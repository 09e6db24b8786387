"""The SQLite store (``--db PATH``): durable, searchable, and fast at 100,000 messages.

WAL mode with ``synchronous=FULL``: a commit is on disk when it returns, so the SMTP ``250`` (sent when
``add`` returns) survives a crash or a power cut. All writes go through one writer process
(``sqlite_writer``) that commits whatever has queued up in one transaction; reads run on a small pool of
other connections, in threads. Nothing here runs SQL on the event loop. The writer process runs only the
named jobs of ``sqlite_jobs``; the helpers both sides use are in ``sqlite_db``, the schema and its
migrations in ``sqlite_schema``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mailtrap_lite.errors import StoreError
from mailtrap_lite.mailboxes import only_mailbox
from mailtrap_lite.model import Arrival, MessageSummary, Page, RelayItem, Release, Session, StoredMessage
from mailtrap_lite.search import Query, tag_key
from mailtrap_lite.store.base import (
    RAW_CHUNK_BYTES,
    MailboxStats,
    RawStream,
    Retention,
    StoreStats,
    TagCount,
    UidState,
    stream_of,
)
from mailtrap_lite.store.codec import decode, summary_from_json
from mailtrap_lite.store.sqlite_db import connect, explain, where_clause
from mailtrap_lite.store.sqlite_jobs import _load_session, _SessionChange
from mailtrap_lite.store.sqlite_threads import ReadPool
from mailtrap_lite.store.sqlite_writer import WriterProcess
from mailtrap_lite.tags import TagRule

READERS = 3
MAX_BLOB_STREAMS = 32
# Deletions run in slices this big, each its own writer job, so that messages arriving meanwhile are
# committed between slices instead of waiting for a long purge.
DELETE_SLICE = 250


class SQLiteStore:
    kind = "sqlite"

    def __init__(
        self, path: Path | str, *, index_when_idle: bool = True, tag_rules: Sequence[TagRule] = ()
    ) -> None:
        """``index_when_idle=False`` leaves the full-text index to ``index_now`` (searches are right
        either way, only slower on what is not indexed)."""
        self.path = Path(path)
        self._tag_rules = tuple(tag_rules)
        self._index_when_idle = index_when_idle
        self._writer: WriterProcess | None = None
        self._readers: ReadPool | None = None
        self._blob_streams = 0
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
            "insert_parsed",
            change,
            arrival.message_id,
            arrival.raw,
            arrival.envelope,
            arrival.eight_bit,
            arrival.mailbox,
            arrival.mailbox_rule,
            arrival.tags,
            self._tag_rules,
        )
        return StoredMessage(summary, arrival.raw, body_text)

    async def add(self, message: StoredMessage, session: Session) -> None:
        change = self._session_change(session, delivered=True)
        await self._write_changes(session, "insert_message", change, message)

    async def save_session(self, session: Session) -> None:
        change = self._session_change(session, delivered=bool(session.message_ids), final=True)
        await self._write_changes(session, "save_session", change)

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

    async def _write_changes(self, session: Session, job: str, *args: object) -> Any:
        try:
            return await self._write_side().run(job, *args)
        except BaseException:
            self._written.pop(session.id, None)  # not written after all: the next save writes everything
            raise

    async def list_messages(self, query: Query | None = None, *, limit: int = 50, offset: int = 0) -> Page:
        def read(db: sqlite3.Connection) -> Page:
            db.execute("BEGIN")
            mailbox = only_mailbox(query)
            if mailbox is not None:  # from the index and the mailbox's counters: no row is counted
                where, params = "mailbox = ?", list[object]([mailbox])
                found = db.execute("SELECT messages, unread FROM mailboxes WHERE name = ?", params).fetchone()
                total, unread = found or (0, 0)
            elif query:
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

    async def raw_stream(self, message_id: str) -> RawStream | None:
        found = await self._read_one(
            "SELECT seq, length(data) FROM raw WHERE seq = (SELECT seq FROM messages WHERE id = ?)",
            (message_id,),
        )
        if found is None:
            return None
        seq, size = found
        return RawStream(size, self._blob_chunks(seq))

    async def _blob_chunks(self, seq: int) -> AsyncIterator[bytes]:
        # A connection of its own holds the blob open (and its read snapshot, so a deletion meanwhile does
        # not cut the download short) while a client reads at its own pace; the pool's readers stay free and
        # one piece at a time is in memory. Opened on the first read, so a stream never read holds nothing.
        # Past MAX_BLOB_STREAMS at once (each holds three file descriptors) the bytes are read whole.
        if self._blob_streams >= MAX_BLOB_STREAMS:
            row = await self._read_one("SELECT data FROM raw WHERE seq = ?", (seq,))
            if row is not None:
                async for piece in stream_of(bytes(row[0])).chunks:
                    yield piece
            return
        connection = connect(self.path)
        self._blob_streams += 1
        try:
            blob = await asyncio.to_thread(connection.blobopen, "raw", "data", seq, readonly=True)
            with blob:
                while piece := await asyncio.to_thread(blob.read, RAW_CHUNK_BYTES):
                    yield piece
        finally:
            self._blob_streams -= 1
            connection.close()

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
        updated: MessageSummary | None = await self._write_side().run(
            "update_message", message_id, read, tags
        )
        return updated

    async def delete(self, message_ids: list[str]) -> list[str]:
        deleted: list[str] = await self._write_side().run("delete_ids", message_ids)
        return deleted

    async def delete_matching(self, query: Query | None) -> list[str]:
        # Everything, too, goes in slices: one transaction deleting 100,000 messages held arriving mail
        # for seconds.
        found = await self._matching_rows(query)
        deleted: list[str] = []
        for start in range(0, len(found), DELETE_SLICE):
            deleted += await self._delete_rows(found[start : start + DELETE_SLICE])
        return deleted

    async def mark_matching(self, query: Query | None, *, read: bool) -> list[str]:
        found = await self._matching_rows(query, f"read != {int(read)}")
        changed: list[str] = []
        for start in range(0, len(found), DELETE_SLICE):
            changed += await self._write_side().run("mark_seqs", found[start : start + DELETE_SLICE], read)
        return changed

    async def _matching_rows(self, query: Query | None, also: str = "1") -> list[tuple[int, str]]:
        """(seq, id) of the messages matching ``query`` and the SQL condition ``also``, newest first."""
        where, params = where_clause(query) if query else ("1", [])

        def matching(db: sqlite3.Connection) -> list[tuple[int, str]]:
            sql = f"SELECT seq, id FROM messages WHERE {where} AND {also} ORDER BY seq DESC"
            return [(int(seq), str(id_)) for seq, id_ in db.execute(sql, params)]

        found: list[tuple[int, str]] = await self._read_side().run(matching)
        return found

    async def mailbox_stats(self) -> list[MailboxStats]:
        def read(db: sqlite3.Connection) -> list[MailboxStats]:
            rows = db.execute(
                "SELECT name, messages, unread, bytes, (SELECT json_extract(summary, '$.received_at') "
                "FROM messages WHERE mailbox = name ORDER BY seq DESC LIMIT 1) FROM mailboxes ORDER BY name"
            ).fetchall()
            return [
                MailboxStats(name, total, unread, size, datetime.fromisoformat(newest) if newest else None)
                for name, total, unread, size, newest in rows
            ]

        return await self._read_side().run(read)

    async def _delete_rows(self, rows: list[tuple[int, str]]) -> list[str]:
        """Delete these (seq, id) rows in one writer job; returns the ids that were still there."""
        deleted: list[str] = await self._write_side().run("delete_seqs", rows)
        return deleted

    async def tag_counts(self, query: Query | None = None) -> list[TagCount]:
        where, params = where_clause(query) if query else ("1", [])
        scope = "" if not query else f"WHERE seq IN (SELECT seq FROM messages WHERE {where})"

        def read(db: sqlite3.Connection) -> list[TagCount]:
            sql = f"SELECT tag, count(*) FROM message_tags {scope} GROUP BY tag ORDER BY tag"
            return [TagCount(str(tag), int(count)) for tag, count in db.execute(sql, params)]

        return await self._read_side().run(read)

    async def retag(
        self, query: Query | None, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> list[tuple[str, str]]:
        where, params = where_clause(query) if query else ("1", [])
        # Only messages that the change can change: with a tag to remove, or lacking a tag to add.
        removing, adding = sorted({tag_key(t) for t in remove}), sorted({tag_key(t) for t in add})
        can_change, more = [], list[object]()
        if removing:
            marks = ", ".join("?" * len(removing))
            can_change.append(f"seq IN (SELECT seq FROM message_tags WHERE tag IN ({marks}))")
            more += removing
        if adding:
            marks = ", ".join("?" * len(adding))
            has = f"SELECT count(*) FROM message_tags AS t WHERE t.seq = messages.seq AND t.tag IN ({marks})"
            can_change.append(f"({has}) < ?")
            more += [*adding, len(adding)]
        sql = f"SELECT seq FROM messages WHERE {where} AND ({' OR '.join(can_change) or '0'})"

        def matching(db: sqlite3.Connection) -> list[int]:
            return [int(row[0]) for row in db.execute(sql, [*params, *more])]

        found = sorted(await self._read_side().run(matching), reverse=True)
        changed: list[tuple[str, str]] = []
        for start in range(0, len(found), DELETE_SLICE):  # in slices, as deletions go
            changed += await self._write_side().run(
                "retag_seqs", found[start : start + DELETE_SLICE], add, remove
            )
        return changed

    # --- sessions ----------------------------------------------------------------------------------------

    async def list_sessions(
        self, *, limit: int = 50, offset: int = 0, mailboxes: frozenset[str] | None = None
    ) -> tuple[int, list[Session]]:
        where, params = "1", list[object]()
        if mailboxes is not None:
            marks = ", ".join("?" * len(mailboxes))
            where = f"id IN (SELECT session_id FROM messages WHERE mailbox IN ({marks}))"
            params = [*sorted(mailboxes)]

        def read(db: sqlite3.Connection) -> tuple[int, list[Session]]:
            db.execute("BEGIN")
            if mailboxes is None:
                total = db.execute("SELECT sessions FROM counters").fetchone()[0]
            else:
                total = db.execute(f"SELECT count(*) FROM sessions WHERE {where}", params).fetchone()[0]
            rows = db.execute(
                f"SELECT seq, data FROM sessions WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
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
        now = time.time()
        pruned: list[str] = []
        while True:
            doomed = await self._read_side().run(lambda db: _oldest_beyond(db, retention, now))
            if not doomed:
                break
            pruned += await self._delete_rows(doomed)
        await self._write_side().run("prune_sessions", retention)
        return pruned

    async def index_now(self) -> None:
        """Bring the full-text index up to date now rather than when the writer is next idle."""
        while await self._write_side().run("index_slice"):
            pass

    async def uid_state(self) -> UidState:
        row = await self._read_one(
            "SELECT uid_validity, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0) + 1 "
            "FROM counters",
            (),
        )
        assert row is not None  # the counters row exists from version 2 on
        return UidState(int(row[0]), int(row[1]))

    async def stats(self) -> StoreStats:
        def read(db: sqlite3.Connection) -> tuple[int, ...]:
            row = db.execute(
                "SELECT messages, unread, sessions, bytes, "
                "(SELECT count(*) FROM messages WHERE seq > indexed) FROM counters"
            ).fetchone()
            return tuple(int(value) for value in row)

        messages, unread, sessions, size, unindexed = await self._read_side().run(read)
        problem = "the database is not open" if self._writer is None else self._writer.problem
        return StoreStats(
            self.kind,
            messages,
            unread,
            sessions,
            size,
            db_size=self._db_size(),
            unindexed=unindexed,
            writable=problem is None,
            problem=problem,
        )

    # --- relay: releases and the store-and-forward queue ----------------------------------------------------

    async def add_release(
        self, message_id: str, release: Release, item: RelayItem | None = None
    ) -> MessageSummary | None:
        updated: MessageSummary | None = await self._write_side().run(
            "add_release", message_id, release, item
        )
        return updated

    async def save_relay_item(self, item: RelayItem) -> None:
        await self._write_side().run("save_relay_item", item)

    async def delete_relay_item(self, item_id: str) -> bool:
        deleted: bool = await self._write_side().run("delete_relay_item", item_id)
        return deleted

    async def relay_items(self) -> list[RelayItem]:
        def read(db: sqlite3.Connection) -> list[RelayItem]:
            rows = db.execute("SELECT data FROM relay_queue ORDER BY created_at, id").fetchall()
            return [decode(RelayItem, row[0]) for row in rows]

        return await self._read_side().run(read)

    def _db_size(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total


def _oldest_beyond(db: sqlite3.Connection, retention: Retention, now: float) -> list[tuple[int, str]]:
    """The next slice of messages that retention drops, oldest first, from the first mailbox that has
    some: each mailbox is read through its index and its counters, never by scanning the others."""
    for name, count in db.execute("SELECT name, messages FROM mailboxes ORDER BY name").fetchall():
        max_messages, max_age = retention.of(name)
        oldest = "SELECT received_at FROM messages WHERE mailbox = ? ORDER BY seq LIMIT 1"
        first = db.execute(oldest, (name,)).fetchone() if max_age is not None else None
        if max_age is not None and first is not None and first[0] < now - max_age:
            rows = db.execute(
                "SELECT seq, id, received_at FROM messages WHERE mailbox = ? ORDER BY seq LIMIT ?",
                (name, DELETE_SLICE),
            ).fetchall()
            cutoff = now - max_age
            old = [row for row in rows if row[2] < cutoff]  # ids, and times, ascend
            if old:
                return [(int(seq), str(id_)) for seq, id_, _ in old]
        excess = 0 if max_messages is None else count - max_messages
        if excess > 0:
            rows = db.execute(
                "SELECT seq, id FROM messages WHERE mailbox = ? ORDER BY seq LIMIT ?",
                (name, min(excess, DELETE_SLICE)),
            ).fetchall()
            return [(int(seq), str(id_)) for seq, id_ in rows]
    return []
