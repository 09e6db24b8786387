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
from mailtrap_lite.store.base import Retention, StoreStats


def snapshot(session: Session) -> Session:
    """A copy that later changes to the live session (more lines, more messages) do not reach."""
    return _SessionAt.of(session).snapshot()


@dataclasses.dataclass(frozen=True, slots=True)
class _SessionAt:
    """A session as it was when it was saved: a shallow copy sharing the live session's lists, and how
    long they were. The lists only grow, so the prefix is the snapshot. Copying the transcript for every
    message of a long session cost O(session) per message (11% of the loop at 1 KB x 8 connections)."""

    session: Session
    lines: int
    messages: int

    @classmethod
    def of(cls, session: Session) -> _SessionAt:
        return cls(dataclasses.replace(session), len(session.transcript), len(session.message_ids))

    def snapshot(self) -> Session:
        return dataclasses.replace(
            self.session,
            transcript=self.session.transcript[: self.lines],
            message_ids=self.session.message_ids[: self.messages],
        )


class MemoryStore:
    kind = "memory"

    def __init__(self) -> None:
        self._messages: dict[str, StoredMessage] = {}
        # The normalised search columns of each message, computed once: searching 100k messages then
        # costs one predicate call each instead of re-normalising every body.
        self._rows: dict[str, dict[str, object]] = {}
        self._sessions: dict[str, _SessionAt] = {}
        self._bytes = 0
        self._unread = 0  # kept up to date: counting 100k summaries per page view costs milliseconds
        # One thread parses large messages, one after another. Parsing holds the GIL most of the time, so
        # more threads would not parse faster; they would only take turns with the event loop for the GIL
        # and make it wait longer (loop lag while receiving 10 MB messages over 4 connections: ~55-110 ms
        # with one thread per message, ~40 ms with one parsing thread).
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
        return stored

    async def add(self, message: StoredMessage, session: Session) -> None:
        self._messages[message.summary.id] = message
        self._rows[message.summary.id] = sql_row_values(message.summary, message.body_text)
        self._bytes += message.summary.size
        self._unread += not message.summary.read
        self._sessions[session.id] = _SessionAt.of(session)

    async def save_session(self, session: Session) -> None:
        self._sessions[session.id] = _SessionAt.of(session)

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
        newest_first = reversed(self._sessions.values())
        page = itertools.islice(newest_first, offset, offset + limit)
        return len(self._sessions), [stored.snapshot() for stored in page]

    async def get_session(self, session_id: str) -> Session | None:
        stored = self._sessions.get(session_id)
        return stored.snapshot() if stored else None

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
        for session_id, stored in list(self._sessions.items()):
            if stored.messages and session_id not in live:
                del self._sessions[session_id]
        if retention.max_messages is None:
            return
        empty = [sid for sid, stored in self._sessions.items() if not stored.messages]
        for session_id in empty[: max(0, len(empty) - retention.max_messages)]:
            del self._sessions[session_id]

    async def stats(self) -> StoreStats:
        return StoreStats(
            kind=self.kind,
            messages=len(self._messages),
            unread=self._unread,
            sessions=len(self._sessions),
            bytes=self._bytes,
        )
