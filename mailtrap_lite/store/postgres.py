"""The PostgreSQL store (``--db postgresql://...``): one set of messages for any number of instances.

Writes go through ``GroupWriter`` (one connection, group commit: the ``250`` follows the COMMIT); reads
use a small pool of other connections. Nothing here blocks the event loop: psycopg's asyncio connections
wait on their sockets, and large messages are parsed on a thread as in the memory store. Several
instances share what the database holds (messages, flags, tags, sessions, fault rules) and, through
``postgres_events``, their live events; retention runs on one instance at a time (an advisory lock).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from mailtrap_lite.errors import StoreError, StoreUnavailable
from mailtrap_lite.events import EventHub
from mailtrap_lite.faults import FaultEngine
from mailtrap_lite.ids import new_id
from mailtrap_lite.mailboxes import only_mailbox
from mailtrap_lite.message import PARSE_OFF_LOOP_BYTES
from mailtrap_lite.model import (
    Arrival,
    MessageSummary,
    Page,
    RelayItem,
    Release,
    Session,
    StoredMessage,
    TranscriptLine,
)
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
from mailtrap_lite.store.codec import decode, encode, session_from_json, summary_from_json
from mailtrap_lite.store.postgres_db import (
    connect,
    conninfo,
    describe,
    row_values,
    unavailable,
    where_clause,
)
from mailtrap_lite.store.postgres_schema import NUL, RETENTION_LOCK, migrate
from mailtrap_lite.store.postgres_writer import GroupWriter
from mailtrap_lite.tags import TagRule, build_tagged, merge

if TYPE_CHECKING:
    from mailtrap_lite.store.postgres_share import Sharing

R = TypeVar("R")
Connection = AsyncConnection[Any]

CHANNEL = "mailtrap_lite"  # the LISTEN/NOTIFY channel of live events (postgres_events)
READERS = 4
POOL_WAIT = 5.0  # seconds a read waits for a connection before it is answered 503
DELETE_SLICE = 250  # deletions go in slices, each its own transaction, so arriving mail is not held up
MAX_RAW_STREAMS = 16


@dataclasses.dataclass(frozen=True, slots=True)
class _SessionChange:
    """What to write of a session since this instance last wrote it (see ``PostgresStore._change``)."""

    bare: Session  # without transcript and message ids
    delivered: bool
    rewrite: bool  # the row's JSON changed: write it with these message ids
    message_ids: tuple[str, ...]
    lines: tuple[TranscriptLine, ...]  # transcript lines not written yet; all of them when start is None
    start: int | None


class PostgresStore:
    kind = "postgresql"

    def __init__(self, url: str, *, tag_rules: Sequence[TagRule] = ()) -> None:
        self.url = url
        self._tag_rules = tuple(tag_rules)
        self.where = describe(url)
        self.instance = new_id()  # tells this instance's own notifications from the others'
        self.trigrams = False  # whether searches have the pg_trgm index
        self._writer: GroupWriter | None = None
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._written: dict[str, tuple[int, Session]] = {}
        self._parser = ThreadPoolExecutor(1, thread_name_prefix="mailtrap-parse")
        self._counts = (0, 0, 0, 0)  # the last counters read, shown while the database is away
        self._sharing: Sharing | None = None
        self._raw_streams = 0  # downloads under way, each on a connection of its own

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def open(self) -> None:
        info = conninfo(self.url, "mailtrap-lite")
        try:
            connection = await connect(info, self.where)
        except StoreUnavailable as error:
            raise StoreError(str(error)) from error
        try:
            self.trigrams = await migrate(connection, self.where)
            await connection.commit()
        except psycopg.Error as error:
            await connection.close()
            raise StoreError(f"cannot prepare {self.where}: {' '.join(str(error).split())}") from error
        except BaseException:
            await connection.close()
            raise
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            info,
            min_size=1,
            max_size=READERS,
            open=False,
            timeout=POOL_WAIT,
            kwargs={"autocommit": True},
            check=AsyncConnectionPool.check_connection,
        )
        await pool.open()
        self._pool = pool
        self._writer = GroupWriter(info, self.where)
        await self._writer.start(connection)

    async def share(self, hub: EventHub, faults: FaultEngine) -> None:
        """Pass live events and fault rules to and from the other instances on this database."""
        from mailtrap_lite.store.postgres_share import Sharing

        self._sharing = Sharing(self, hub, faults)
        await self._sharing.start()

    async def close(self) -> None:
        if self._sharing is not None:
            await self._sharing.close()
            self._sharing = None
        if self._writer is not None:
            await self._writer.close()
        if self._pool is not None:
            await self._pool.close()
        self._writer = self._pool = None
        await asyncio.get_running_loop().run_in_executor(None, self._parser.shutdown)

    def writer(self) -> GroupWriter:
        if self._writer is None:
            raise StoreError("the database is not open")
        return self._writer

    async def read(self, work: Callable[[Connection], Awaitable[R]]) -> R:
        """Run ``work`` on a pooled connection (autocommit: open a transaction to read consistently)."""
        if self._pool is None:
            raise StoreError("the database is not open")
        try:
            async with self._pool.connection() as connection:
                return await work(connection)
        except psycopg.Error as error:
            raise unavailable(error, self.where) from error

    async def _fetchone(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        async def work(db: Connection) -> tuple[Any, ...] | None:
            return await (await db.execute(sql.encode(), params)).fetchone()

        return await self.read(work)

    async def _fetchall(self, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
        async def work(db: Connection) -> list[tuple[Any, ...]]:
            return await (await db.execute(sql.encode(), params)).fetchall()

        return await self.read(work)

    # --- messages ----------------------------------------------------------------------------------------

    async def ingest(self, arrival: Arrival) -> StoredMessage:
        if len(arrival.raw) > PARSE_OFF_LOOP_BYTES:
            # The search columns too: normalising a large body would hold the loop.
            stored, row = await asyncio.get_running_loop().run_in_executor(
                self._parser, _parse, arrival, self._tag_rules
            )
        else:
            stored, row = _parse(arrival, self._tag_rules)
        return await self._insert(stored, row, arrival.session)

    async def add(self, message: StoredMessage, session: Session) -> None:
        await self._insert(message, _row(message), session)

    async def _insert(
        self, message: StoredMessage, row: dict[str, object], session: Session
    ) -> StoredMessage:
        change = self._change(session, delivered=True)
        # The notification is delivered on COMMIT, and only then: another instance hears of exactly what
        # was stored.
        # The seq is taken first: it is the message's IMAP UID, written into its summary.
        insert = (
            f"WITH stored AS (INSERT INTO messages (seq, {', '.join(row)}) OVERRIDING SYSTEM VALUE "
            f"VALUES (%s, {', '.join(['%s'] * len(row))}) RETURNING id) "
            "SELECT pg_notify(%s, %s) FROM stored"
        )
        next_seq = b"SELECT nextval(pg_get_serial_sequence('messages', 'seq'))"
        notice = json.dumps({"i": self.instance, "t": "message.new", "id": message.summary.id})

        async def work(db: Connection) -> None:
            await _save_session(db, change)
            taken = await (await db.execute(next_seq)).fetchone()
            assert taken is not None
            uid = int(taken[0])
            summaries[:] = [dataclasses.replace(message.summary, uid=uid)]
            values = {**row, "summary": encode(summaries[0])}
            await db.execute(insert.encode(), [uid, *values.values(), CHANNEL, notice])

        summaries: list[MessageSummary] = []
        await self._write_session(session, work)
        return dataclasses.replace(message, summary=summaries[0])

    async def save_session(self, session: Session) -> None:
        change = self._change(session, delivered=bool(session.message_ids), final=True)

        async def work(db: Connection) -> None:
            await _save_session(db, change)
            # Every message it delivered was deleted while it was open: it goes with them.
            sql = b"DELETE FROM sessions WHERE id = %s AND delivered AND live = 0"
            await db.execute(sql, (session.id,))

        await self._write_session(session, work)

    def _change(self, session: Session, *, delivered: bool, final: bool = False) -> _SessionChange:
        """Only the transcript lines added since this instance last wrote the session, and its JSON only
        when a field other than its message ids changed, or when it ends: a session carrying thousands of
        messages is saved with each, and rewriting it all each time would cost O(messages) per message."""
        known = self._written.pop(session.id, None) if final else self._written.get(session.id)
        bare = dataclasses.replace(session, transcript=(), message_ids=())
        start = None if known is None else known[0]
        if not final:
            self._written[session.id] = (len(session.transcript), bare)
        return _SessionChange(
            bare=bare,
            delivered=delivered,
            rewrite=final or known is None or known[1] != bare,
            message_ids=session.message_ids,
            lines=tuple(session.transcript[start or 0 :]),
            start=start,
        )

    async def _write_session(self, session: Session, work: Callable[[Connection], Awaitable[None]]) -> None:
        try:
            await self.writer().run(work)
        except BaseException:
            self._written.pop(session.id, None)  # not written after all: the next save writes everything
            raise

    async def list_messages(self, query: Query | None = None, *, limit: int = 50, offset: int = 0) -> Page:
        where, params = where_clause(query, trigrams=self.trigrams) if query else ("true", [])
        mailbox = only_mailbox(query)
        if mailbox is not None:  # from the index and the mailbox's counters: no row is counted
            where, params = "mailbox = %s", [mailbox]

        async def work(db: Connection) -> Page:
            async with db.transaction():
                if mailbox is not None:
                    sql = b"SELECT messages, unread FROM mailboxes WHERE name = %s"
                    row = await (await db.execute(sql, (mailbox,))).fetchone() or (0, 0)
                elif query:
                    counted = f"SELECT count(*), coalesce(sum(1 - read), 0) FROM messages WHERE {where}"
                    row = await (await db.execute(counted.encode(), params)).fetchone()
                else:
                    row = await (await db.execute("SELECT messages, unread FROM counters")).fetchone()
                assert row is not None
                listed = f"SELECT summary FROM messages WHERE {where} ORDER BY seq DESC LIMIT %s OFFSET %s"
                rows = await (await db.execute(listed.encode(), [*params, limit, offset])).fetchall()
            return Page(int(row[0]), int(row[1]), tuple(summary_from_json(r[0]) for r in rows))

        return await self.read(work)

    async def get_summary(self, message_id: str) -> MessageSummary | None:
        row = await self._fetchone("SELECT summary FROM messages WHERE id = %s", (message_id,))
        return summary_from_json(row[0]) if row else None

    async def get_stored(self, message_id: str) -> StoredMessage | None:
        """The summary and search text of a message (not its bytes), for events heard from another
        instance."""
        row = await self._fetchone("SELECT summary, body_text FROM messages WHERE id = %s", (message_id,))
        if row is None:
            return None
        return StoredMessage(summary_from_json(row[0]), b"", str(row[1]).replace(NUL, "\x00"))

    async def get_raw(self, message_id: str) -> bytes | None:
        row = await self._fetchone("SELECT raw FROM messages WHERE id = %s", (message_id,))
        return bytes(row[0]) if row else None

    async def raw_stream(self, message_id: str) -> RawStream | None:
        row = await self._fetchone("SELECT length(raw) FROM messages WHERE id = %s", (message_id,))
        return None if row is None else RawStream(int(row[0]), self._raw_chunks(message_id))

    async def _raw_chunks(self, message_id: str) -> AsyncIterator[bytes]:
        # A connection of its own, in one repeatable-read transaction, so that a deletion meanwhile does not
        # cut the download short, while the client reads at its own pace and the pool's connections stay
        # free. The bytes are stored uncompressed, so each piece reads only its own part. Opened on the
        # first read; past MAX_RAW_STREAMS at once the bytes are read whole.
        if self._raw_streams >= MAX_RAW_STREAMS:
            raw = await self.get_raw(message_id)
            if raw is not None:
                async for piece in stream_of(raw).chunks:
                    yield piece
            return
        self._raw_streams += 1
        try:
            connection = await connect(conninfo(self.url, "mailtrap-lite download"), self.where)
            async with connection, connection.transaction():
                await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                sql = b"SELECT substring(raw FROM %s FOR %s) FROM messages WHERE id = %s"
                start = 1
                while True:
                    cursor = await connection.execute(sql, (start, RAW_CHUNK_BYTES, message_id))
                    row = await cursor.fetchone()
                    if row is None or not row[0]:
                        return
                    yield bytes(row[0])
                    start += RAW_CHUNK_BYTES
        except psycopg.Error as error:
            raise unavailable(error, self.where) from error
        finally:
            self._raw_streams -= 1

    async def latest_id(self) -> str | None:
        row = await self._fetchone("SELECT id FROM messages ORDER BY seq DESC LIMIT 1", ())
        return str(row[0]) if row else None

    async def update(
        self, message_id: str, *, read: bool | None = None, tags: tuple[str, ...] | None = None
    ) -> MessageSummary | None:
        async def work(db: Connection) -> MessageSummary | None:
            sql = b"SELECT summary FROM messages WHERE id = %s FOR UPDATE"
            row = await (await db.execute(sql, (message_id,))).fetchone()
            if row is None:
                return None
            summary = summary_from_json(row[0])
            if read is not None:
                summary = dataclasses.replace(summary, read=read)
            if tags is not None:
                summary = dataclasses.replace(summary, tags=tags)
            columns = row_values(summary, "")
            await db.execute(
                "UPDATE messages SET read = %s, tags_text = %s, summary = %s WHERE id = %s",
                (columns["read"], columns["tags_text"], encode(summary), message_id),
            )
            return summary

        updated: MessageSummary | None = await self.writer().run(work)
        return updated

    async def delete(self, message_ids: list[str]) -> list[str]:
        async def work(db: Connection) -> list[str]:
            sql = b"DELETE FROM messages WHERE id = ANY(%s) RETURNING id"
            gone = {row[0] for row in await (await db.execute(sql, (message_ids,))).fetchall()}
            await db.execute(_ORPHANED)
            return [message_id for message_id in dict.fromkeys(message_ids) if message_id in gone]

        deleted: list[str] = await self.writer().run(work)
        return deleted

    async def delete_matching(self, query: Query | None) -> list[str]:
        found = await self._matching_rows(query)
        deleted: list[str] = []
        for start in range(0, len(found), DELETE_SLICE):
            deleted += await self._delete_rows(found[start : start + DELETE_SLICE])
        return deleted

    async def tag_counts(self, query: Query | None = None) -> list[TagCount]:
        where, params = where_clause(query, trigrams=self.trigrams) if query else ("true", [])
        sql = f"SELECT summary FROM messages WHERE {where} AND tags_text != ''"
        rows = await self._fetchall(sql, params)
        counts = collections.Counter(
            key for (text,) in rows for key in {tag_key(t) for t in summary_from_json(text).tags}
        )
        return [TagCount(name, count) for name, count in sorted(counts.items())]

    async def retag(
        self, query: Query | None, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> list[tuple[str, str]]:
        where, params = where_clause(query, trigrams=self.trigrams) if query else ("true", [])
        rows = await self._fetchall(f"SELECT summary FROM messages WHERE {where} ORDER BY seq DESC", params)
        changed = []
        for (text,) in rows:
            summary = summary_from_json(text)
            tags = merge(summary.tags, add, remove)
            if tags != summary.tags and await self.update(summary.id, tags=tags) is not None:
                changed.append((summary.id, summary.mailbox))
        return changed

    async def uid_state(self) -> UidState:
        row = await self._fetchone(
            "SELECT (SELECT value FROM meta WHERE key = 'uidvalidity'), "
            "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM messages_seq_seq)",
            (),
        )
        assert row is not None
        return UidState(int(row[0]), int(row[1]))

    async def mark_matching(self, query: Query | None, *, read: bool) -> list[str]:
        found = await self._matching_rows(query, f"read != {int(read)}")
        changed: list[str] = []
        for start in range(0, len(found), DELETE_SLICE):
            rows = found[start : start + DELETE_SLICE]

            async def work(db: Connection, rows: list[tuple[int, str]] = rows) -> list[str]:
                # The summary is changed in Python, as by ``update``: jsonb would refuse a \u0000 in it.
                sql = b"SELECT seq, summary FROM messages WHERE seq = ANY(%s) AND read != %s FOR UPDATE"
                found = await (await db.execute(sql, ([seq for seq, _ in rows], int(read)))).fetchall()
                changes = [
                    (int(read), encode(dataclasses.replace(summary_from_json(text), read=read)), seq)
                    for seq, text in found
                ]
                async with db.cursor() as cursor:
                    sql = b"UPDATE messages SET read = %s, summary = %s WHERE seq = %s"
                    await cursor.executemany(sql, changes)
                done = {seq for seq, _ in found}
                return [message_id for seq, message_id in rows if seq in done]

            changed += await self.writer().run(work)
        return changed

    async def _matching_rows(self, query: Query | None, also: str = "true") -> list[tuple[int, str]]:
        """(seq, id) of the messages matching ``query`` and the SQL condition ``also``, newest first."""
        where, params = where_clause(query, trigrams=self.trigrams) if query else ("true", [])

        async def matching(db: Connection) -> list[tuple[int, str]]:
            sql = f"SELECT seq, id FROM messages WHERE {where} AND {also} ORDER BY seq DESC"
            return [(int(s), str(i)) for s, i in await (await db.execute(sql.encode(), params)).fetchall()]

        return await self.read(matching)

    async def mailbox_stats(self) -> list[MailboxStats]:
        async def work(db: Connection) -> list[tuple[Any, ...]]:
            sql = (
                b"SELECT name, messages, unread, bytes, (SELECT summary FROM messages WHERE mailbox = name "
                b"ORDER BY seq DESC LIMIT 1) FROM mailboxes ORDER BY name"
            )
            return await (await db.execute(sql)).fetchall()

        return [
            MailboxStats(
                name,
                int(total),
                int(unread),
                int(size),
                summary_from_json(newest).received_at if newest else None,
            )
            for name, total, unread, size, newest in await self.read(work)
        ]

    async def _delete_rows(self, rows: list[tuple[int, str]]) -> list[str]:
        """Delete these (seq, id) rows in one transaction; returns the ids that were still there."""

        async def work(db: Connection) -> list[str]:
            sql = b"DELETE FROM messages WHERE seq = ANY(%s) RETURNING seq"
            gone = {row[0] for row in await (await db.execute(sql, ([seq for seq, _ in rows],))).fetchall()}
            await db.execute(_ORPHANED)
            return [message_id for seq, message_id in rows if seq in gone]

        deleted: list[str] = await self.writer().run(work)
        return deleted

    # --- sessions ----------------------------------------------------------------------------------------

    async def list_sessions(
        self, *, limit: int = 50, offset: int = 0, mailboxes: frozenset[str] | None = None
    ) -> tuple[int, list[Session]]:
        where, params = "true", list[object]()
        if mailboxes is not None:
            where = "id IN (SELECT session_id FROM messages WHERE mailbox = ANY(%s))"
            params = [sorted(mailboxes)]

        async def work(db: Connection) -> tuple[int, list[Session]]:
            async with db.transaction():
                if mailboxes is None:
                    total = await (await db.execute("SELECT sessions FROM counters")).fetchone()
                else:
                    counted = f"SELECT count(*) FROM sessions WHERE {where}".encode()
                    total = await (await db.execute(counted, params)).fetchone()
                sql = f"SELECT data FROM sessions WHERE {where} ORDER BY seq DESC LIMIT %s OFFSET %s"
                rows = await (await db.execute(sql.encode(), [*params, limit, offset])).fetchall()
                sessions = [await _load_session(db, row[0]) for row in rows]
            assert total is not None
            return int(total[0]), sessions

        return await self.read(work)

    async def get_session(self, session_id: str) -> Session | None:
        async def work(db: Connection) -> Session | None:
            async with db.transaction():
                sql = b"SELECT data FROM sessions WHERE id = %s"
                row = await (await db.execute(sql, (session_id,))).fetchone()
                return await _load_session(db, row[0]) if row else None

        return await self.read(work)

    # --- retention and statistics ------------------------------------------------------------------------

    async def prune(self, retention: Retention) -> list[str]:
        """Apply retention, unless another instance is doing it right now (then it prunes for all)."""
        now = time.time()

        async def work(db: Connection) -> list[str]:
            got = await (await db.execute("SELECT pg_try_advisory_lock(%s)", (RETENTION_LOCK,))).fetchone()
            if not got or not got[0]:
                return []
            try:
                pruned: list[str] = []
                while doomed := await _oldest_beyond(db, retention, now):
                    pruned += await self._delete_rows(doomed)
                await self.writer().run(lambda writer: _prune_sessions(writer, retention))
                return pruned
            finally:
                await db.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))

        return await self.read(work)

    # --- relay: releases and the store-and-forward queue ------------------------------------------------

    async def add_release(
        self, message_id: str, release: Release, item: RelayItem | None = None
    ) -> MessageSummary | None:
        async def work(db: Connection) -> MessageSummary | None:
            if item is not None:
                await _save_relay_item(db, item)
            sql = b"SELECT summary FROM messages WHERE id = %s FOR UPDATE"
            row = await (await db.execute(sql, (message_id,))).fetchone()
            if row is None:
                return None
            summary = summary_from_json(row[0])
            summary = dataclasses.replace(summary, releases=(*summary.releases, release))
            await db.execute("UPDATE messages SET summary = %s WHERE id = %s", (encode(summary), message_id))
            return summary

        updated: MessageSummary | None = await self.writer().run(work)
        return updated

    async def save_relay_item(self, item: RelayItem) -> None:
        await self.writer().run(lambda db: _save_relay_item(db, item))

    async def delete_relay_item(self, item_id: str) -> bool:
        async def work(db: Connection) -> bool:
            sql = b"DELETE FROM relay_queue WHERE id = %s RETURNING id"
            return bool(await (await db.execute(sql, (item_id,))).fetchall())

        deleted: bool = await self.writer().run(work)
        return deleted

    async def relay_items(self) -> list[RelayItem]:
        async def work(db: Connection) -> list[tuple[Any, ...]]:
            return await (
                await db.execute(b"SELECT data FROM relay_queue ORDER BY created_at, id")
            ).fetchall()

        return [decode(RelayItem, row[0]) for row in await self.read(work)]

    async def stats(self) -> StoreStats:
        writer = self.writer()
        await writer.check()

        async def work(db: Connection) -> tuple[int, ...]:
            sql = (
                b"SELECT messages, unread, sessions, bytes, "
                b"pg_database_size(current_database()) FROM counters"
            )
            row = await (await db.execute(sql)).fetchone()
            assert row is not None
            return tuple(int(value) for value in row)

        problem = writer.problem
        (messages, unread, sessions, size), db_size = self._counts, None
        if problem is None:  # else a read would wait for the pool's timeout: show the last counts
            try:
                messages, unread, sessions, size, db_size = await self.read(work)
                self._counts = (messages, unread, sessions, size)
            except StoreUnavailable as error:
                problem = str(error)
        return StoreStats(
            self.kind,
            messages,
            unread,
            sessions,
            size,
            db_size=db_size,
            writable=problem is None,
            problem=problem,
        )


_ORPHANED = b"DELETE FROM sessions WHERE delivered AND live = 0"  # sessions whose messages are all gone


async def _save_relay_item(db: Connection, item: RelayItem) -> None:
    if item.state == "sent":
        await db.execute("DELETE FROM relay_queue WHERE id = %s", (item.id,))
        return
    await db.execute(
        "INSERT INTO relay_queue (id, created_at, data) VALUES (%s, %s, %s) "
        "ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data",
        (item.id, item.created_at.isoformat(), encode(item)),
    )


def _row(message: StoredMessage) -> dict[str, object]:
    """The ``messages`` row of a message, but its seq."""
    row = row_values(message.summary, message.body_text)
    row["session_id"] = message.summary.session_id
    row["summary"] = encode(message.summary)
    row["raw"] = message.raw
    return row


def _parse(arrival: Arrival, rules: tuple[TagRule, ...]) -> tuple[StoredMessage, dict[str, object]]:
    stored = build_tagged(arrival, rules)
    return stored, _row(stored)


async def _save_session(db: Connection, change: _SessionChange) -> None:
    whole = change.bare
    if change.rewrite:
        whole = dataclasses.replace(whole, message_ids=change.message_ids)
    upsert = (
        "INSERT INTO sessions (id, delivered, data, live) "
        "VALUES (%s, %s, %s, (SELECT count(*) FROM messages WHERE session_id = %s)) "
        "ON CONFLICT (id) DO UPDATE SET "
        "delivered = EXCLUDED.delivered, data = CASE WHEN %s THEN EXCLUDED.data ELSE sessions.data END"
    )
    params: list[object] = [change.bare.id, change.delivered, encode(whole), change.bare.id, change.rewrite]
    start = change.start
    if start is None:  # the whole transcript: replace what is stored
        await db.execute("DELETE FROM transcripts WHERE session_id = %s", (change.bare.id,))
        start = 0
    if change.lines:  # one statement for both: one round of psycopg's work instead of two
        upsert = (
            f"WITH saved AS ({upsert} RETURNING id) "
            "INSERT INTO transcripts (session_id, first, lines) SELECT id, %s, %s FROM saved"
        )
        params += [
            start,
            json.dumps([[line.t_ms, line.dir, line.line, line.fault_id] for line in change.lines]),
        ]
    await db.execute(upsert.encode(), params)


async def _load_session(db: Connection, data: str) -> Session:
    session = session_from_json(data)
    sql = b"SELECT lines FROM transcripts WHERE session_id = %s ORDER BY first"
    chunks = await (await db.execute(sql, (session.id,))).fetchall()
    transcript = tuple(TranscriptLine(*line) for chunk in chunks for line in json.loads(chunk[0]))
    # Its messages still stored, including those stored since the session's JSON was last written (see
    # PostgresStore._change).
    sql = b"SELECT id FROM messages WHERE session_id = %s ORDER BY seq"
    stored = [str(row[0]) for row in await (await db.execute(sql, (session.id,))).fetchall()]
    known, still = set(session.message_ids), set(stored)
    ids = (*(i for i in session.message_ids if i in still), *(i for i in stored if i not in known))
    return dataclasses.replace(session, transcript=transcript, message_ids=ids)


async def _oldest_beyond(db: Connection, retention: Retention, now: float) -> list[tuple[int, str]]:
    """The next slice of messages that retention drops, oldest first, from the first mailbox that has
    some: each mailbox is read through its index and its counters, never by scanning the others."""
    for name, count in await (
        await db.execute("SELECT name, messages FROM mailboxes ORDER BY name")
    ).fetchall():
        max_messages, max_age = retention.of(name)
        if max_age is not None:
            sql = b"SELECT seq, id, received_at FROM messages WHERE mailbox = %s ORDER BY seq LIMIT %s"
            rows = await (await db.execute(sql, (name, DELETE_SLICE))).fetchall()
            old = [(int(seq), str(id_)) for seq, id_, received in rows if received < now - max_age]
            if old:
                return old
        excess = 0 if max_messages is None else int(count) - max_messages
        if excess > 0:
            sql = b"SELECT seq, id FROM messages WHERE mailbox = %s ORDER BY seq LIMIT %s"
            rows = await (await db.execute(sql, (name, min(excess, DELETE_SLICE)))).fetchall()
            return [(int(seq), str(id_)) for seq, id_ in rows]
    return []


async def _prune_sessions(db: Connection, retention: Retention) -> None:
    # Sessions go with their messages; sessions that delivered nothing are kept up to the same count.
    await db.execute("DELETE FROM sessions WHERE delivered AND live = 0")
    if retention.max_messages is not None:
        await db.execute(
            "DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions WHERE NOT delivered "
            "ORDER BY seq DESC OFFSET %s)",
            (retention.max_messages,),
        )
