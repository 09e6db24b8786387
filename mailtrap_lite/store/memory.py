"""The in-memory store: dicts in insertion (= id) order, used only from the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from concurrent.futures import ThreadPoolExecutor

from mailtrap_lite.message import PARSE_OFF_LOOP_BYTES, build_message
from mailtrap_lite.model import Arrival, MessageSummary, Page, Session, StoredMessage
from mailtrap_lite.search import Query, sql_row_values
from mailtrap_lite.search import compile as compile_query
from mailtrap_lite.store.base import RawStream, Retention, StoreStats, UidState, stream_of


class MemoryStore:
    kind = "memory"

    def __init__(self) -> None:
        self._messages: dict[str, StoredMessage] = {}
        # The normalised search columns of each message, computed once: searching 100k messages then
        # costs one predicate call each instead of re-normalising every body.
        self._rows: dict[str, dict[str, object]] = {}
        # Each session as last saved, and the ids of its messages stored since: an arrival's snapshot of
        # its session does not list them (see ``Session``).
        self._sessions: dict[str, Session] = {}
        self._stored_since: dict[str, list[str]] = {}
        self._bytes = 0
        self._unread = 0  # kept up to date: counting 100k summaries per page view costs milliseconds
        self._last_uid = 0
        self._uid_validity = int(time.time()) % 0xFFFFFFFF or 1  # a new store counts UIDs from 1 again
        # One thread parses large messages, one after another. Parsing holds the GIL most of the time, so
        # more threads would not parse faster; they would only take turns with the event loop for the GIL
        # and make it wait longer (measured in benchmarks/README.md).
        self._parser = ThreadPoolExecutor(1, thread_name_prefix="mailtrap-parse")

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self._parser.shutdown(wait=True)

    async def ingest(self, arrival: Arrival) -> StoredMessage:
        build = (arrival.message_id, arrival.raw, arrival.envelope, arrival.session.id, arrival.eight_bit)
        if len(arrival.raw) > PARSE_OFF_LOOP_BYTES:
            stored = await asyncio.get_running_loop().run_in_executor(self._parser, build_message, *build)
        else:
            stored = build_message(*build)
        await self.add(stored, arrival.session)
        return self._messages[stored.summary.id]

    async def add(self, message: StoredMessage, session: Session) -> None:
        self._last_uid += 1
        message = dataclasses.replace(
            message, summary=dataclasses.replace(message.summary, uid=self._last_uid)
        )
        self._messages[message.summary.id] = message
        self._rows[message.summary.id] = sql_row_values(message.summary, message.body_text)
        self._bytes += message.summary.size
        self._unread += not message.summary.read
        self._sessions[session.id] = session
        self._stored_since.setdefault(session.id, []).append(message.summary.id)

    async def save_session(self, session: Session) -> None:
        self._sessions[session.id] = session
        self._stored_since.pop(session.id, None)

    def _session(self, session_id: str) -> Session:
        session = self._sessions[session_id]
        later = self._stored_since.get(session_id)
        if not later:
            return session
        known = set(session.message_ids)
        return dataclasses.replace(
            session, message_ids=session.message_ids + tuple(i for i in later if i not in known)
        )

    def _matching(self, query: Query | None) -> list[StoredMessage]:
        newest_first = reversed(self._messages.values())
        if not query:
            return list(newest_first)
        accept = compile_query(query)
        return [m for m in newest_first if accept(self._rows[m.summary.id])]

    async def list_messages(self, query: Query | None = None, *, limit: int = 50, offset: int = 0) -> Page:
        if not query:  # the common first page: no need to build a list of every message
            newest_first = reversed(self._messages.values())
            page = tuple(m.summary for m in itertools.islice(newest_first, offset, offset + limit))
            return Page(total=len(self._messages), unread=self._unread, messages=page)
        found = self._matching(query)
        unread = sum(1 for m in found if not m.summary.read)
        page = tuple(m.summary for m in found[offset : offset + limit])
        return Page(total=len(found), unread=unread, messages=page)

    async def get_summary(self, message_id: str) -> MessageSummary | None:
        stored = self._messages.get(message_id)
        return stored.summary if stored else None

    async def get_raw(self, message_id: str) -> bytes | None:
        stored = self._messages.get(message_id)
        return stored.raw if stored else None

    async def raw_stream(self, message_id: str) -> RawStream | None:
        stored = self._messages.get(message_id)
        return stream_of(stored.raw) if stored else None

    async def latest_id(self) -> str | None:
        return next(reversed(self._messages), None)

    async def update(
        self, message_id: str, *, read: bool | None = None, tags: tuple[str, ...] | None = None
    ) -> MessageSummary | None:
        stored = self._messages.get(message_id)
        if stored is None:
            return None
        summary = stored.summary
        if read is not None:
            summary = dataclasses.replace(summary, read=read)
        if tags is not None:
            summary = dataclasses.replace(summary, tags=tags)
        self._unread += stored.summary.read - summary.read
        self._messages[message_id] = dataclasses.replace(stored, summary=summary)
        self._rows[message_id] = sql_row_values(summary, stored.body_text)
        return summary

    async def delete(self, message_ids: list[str]) -> list[str]:
        deleted = []
        for message_id in message_ids:
            stored = self._messages.pop(message_id, None)
            if stored is not None:
                del self._rows[message_id]
                self._bytes -= stored.summary.size
                self._unread -= not stored.summary.read
                deleted.append(message_id)
        return deleted

    async def delete_matching(self, query: Query | None) -> list[str]:
        return await self.delete([m.summary.id for m in self._matching(query)])

    async def list_sessions(self, *, limit: int = 50, offset: int = 0) -> tuple[int, list[Session]]:
        newest_first = reversed(self._sessions)
        page = itertools.islice(newest_first, offset, offset + limit)
        return len(self._sessions), [self._session(session_id) for session_id in page]

    async def get_session(self, session_id: str) -> Session | None:
        return self._session(session_id) if session_id in self._sessions else None

    async def prune(self, retention: Retention) -> list[str]:
        doomed: list[str] = []
        if retention.max_age_seconds is not None:
            cutoff = time.time() - retention.max_age_seconds
            for message_id, stored in self._messages.items():
                if stored.summary.received_at.timestamp() >= cutoff:
                    break
                doomed.append(message_id)
        if retention.max_messages is not None:
            excess = len(self._messages) - len(doomed) - retention.max_messages
            if excess > 0:
                doomed.extend(list(self._messages)[len(doomed) : len(doomed) + excess])
        deleted = await self.delete(doomed)
        self._prune_sessions(retention)
        return deleted

    def _prune_sessions(self, retention: Retention) -> None:
        # Sessions go with their messages; sessions that delivered nothing are kept up to the same count.
        live = {m.summary.session_id for m in self._messages.values()}
        delivered = {sid for sid, session in self._sessions.items() if session.message_ids}
        delivered.update(self._stored_since)
        for session_id in delivered - live:
            del self._sessions[session_id]
            self._stored_since.pop(session_id, None)
        if retention.max_messages is None:
            return
        empty = [sid for sid in self._sessions if sid not in delivered]
        for session_id in empty[: max(0, len(empty) - retention.max_messages)]:
            del self._sessions[session_id]

    async def uid_state(self) -> UidState:
        return UidState(self._uid_validity, self._last_uid + 1)

    async def stats(self) -> StoreStats:
        return StoreStats(
            kind=self.kind,
            messages=len(self._messages),
            unread=self._unread,
            sessions=len(self._sessions),
            bytes=self._bytes,
        )
