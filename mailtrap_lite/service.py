"""What the protocol layers (SMTP, HTTP, websocket, the pytest plugin) ask of mailtrap-lite.

Plain coroutines over the store and the event hub: ingest a message, list, read, change and delete, and
publish an event for every change. Nothing here knows about sockets or HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mailtrap_lite import message as mime
from mailtrap_lite.errors import NotFound, StoreError, StoreUnavailable
from mailtrap_lite.events import Event, EventHub
from mailtrap_lite.looplag import LoopLag
from mailtrap_lite.message import PARSE_OFF_LOOP_BYTES
from mailtrap_lite.model import (
    Arrival,
    Message,
    MessageSummary,
    Page,
    Session,
    json_fields,
    to_json,
)
from mailtrap_lite.search import Query, matches
from mailtrap_lite.store.base import Retention, Store
from mailtrap_lite.store.memory import snapshot

log = logging.getLogger("mailtrap_lite")


class MailService:
    def __init__(self, store: Store, hub: EventHub, retention: Retention) -> None:
        self.store = store
        self.hub = hub
        self.retention = retention
        self.started = time.time()
        self.received = 0
        self.received_bytes = 0
        self.rejected = 0
        self.sessions_total = 0
        self.live_sessions: dict[str, Session] = {}
        self._added_since_prune = 0
        self.loop_lag = LoopLag()

    # --- SMTP side ---------------------------------------------------------------------------------------

    async def ingest(self, arrival: Arrival) -> MessageSummary:
        session = arrival.session
        session.message_ids.append(arrival.message_id)
        try:
            stored = await self.store.ingest(arrival)
        except BaseException:
            session.message_ids.remove(arrival.message_id)
            raise
        self.received += 1
        self.received_bytes += len(arrival.raw)
        self._added_since_prune += 1
        self.hub.publish_new("message.new", lambda: to_json(stored.summary), stored)
        return stored.summary

    def session_started(self, session: Session) -> None:
        self.sessions_total += 1
        self.live_sessions[session.id] = session

    async def session_ended(self, session: Session) -> None:
        self.live_sessions.pop(session.id, None)
        try:
            await self.store.save_session(session)
        except StoreError as error:  # nobody waits on this: say so, and keep serving
            quiet = isinstance(error, StoreUnavailable)  # the store reported the outage once
            log.log(
                logging.DEBUG if quiet else logging.WARNING, "session %s was not saved: %s", session.id, error
            )
            return
        self.hub.publish_new("session.ended", lambda: session_json(session, transcript=False), session)

    async def prune(self) -> list[str]:
        """Apply retention; cheap when nothing was added since the last call."""
        if not self._added_since_prune and self.retention.max_age_seconds is None:
            return []
        self._added_since_prune = 0
        pruned = await self.store.prune(self.retention)
        if pruned:
            self.hub.publish(Event("message.deleted", {"ids": pruned, "reason": "retention"}))
        return pruned

    # --- readers -----------------------------------------------------------------------------------------

    async def list_messages(self, query: Query | None, limit: int, offset: int) -> Page:
        return await self.store.list_messages(query, limit=limit, offset=offset)

    async def wait_matching(self, query: Query | None, count: int, timeout: float) -> tuple[Page, bool]:
        """Wait until ``count`` messages match; woken by message.new events, never by sleeping.

        Returns the newest ``count`` matches and whether there were enough before ``timeout`` seconds.
        """

        def relevant(event: Event) -> bool:
            if event.type != "message.new" or query is None:
                return event.type == "message.new"
            stored = event.subject
            return bool(matches(query, stored.summary, stored.body_text))

        loop = asyncio.get_running_loop()
        subscription = self.hub.subscribe(relevant)
        try:
            page = await self.list_messages(query, count, 0)
            deadline = loop.time() + timeout
            while page.total < count:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return page, False
                try:
                    async with asyncio.timeout(remaining):
                        await subscription.get()
                except TimeoutError:
                    continue
                # One listing answers a whole burst of arrivals.
                while not subscription.queue.empty():
                    subscription.queue.get_nowait()
                if subscription.overflowed:  # the hub dropped us during a burst: listen afresh
                    subscription.close()
                    subscription = self.hub.subscribe(relevant)
                page = await self.list_messages(query, count, 0)
        finally:
            subscription.close()
        return page, True

    async def resolve_id(self, message_id: str) -> str:
        if message_id == "latest":
            latest = await self.store.latest_id()
            if latest is None:
                raise NotFound("no messages stored")
            return latest
        return message_id

    async def summary(self, message_id: str) -> MessageSummary:
        found = await self.store.get_summary(await self.resolve_id(message_id))
        if found is None:
            raise NotFound(f"no message {message_id!r}")
        return found

    async def raw(self, message_id: str) -> tuple[MessageSummary, bytes]:
        summary = await self.summary(message_id)
        raw = await self.store.get_raw(summary.id)
        if raw is None:
            raise NotFound(f"no message {message_id!r}")
        return summary, raw

    async def message(self, message_id: str) -> Message:
        summary, raw = await self.raw(message_id)
        if len(raw) > PARSE_OFF_LOOP_BYTES:
            return await asyncio.to_thread(mime.parse_full, summary, raw)
        return mime.parse_full(summary, raw)

    async def part(self, message_id: str, part_id: str) -> tuple[str, str | None, bytes]:
        _, raw = await self.raw(message_id)
        if len(raw) > PARSE_OFF_LOOP_BYTES:
            found = await asyncio.to_thread(mime.part_content, raw, part_id)
        else:
            found = mime.part_content(raw, part_id)
        if found is None:
            raise NotFound(f"no part {part_id!r} in message {message_id!r}")
        return found

    async def session(self, session_id: str) -> Session:
        live = self.live_sessions.get(session_id)
        if live is not None:
            return snapshot(live)
        found = await self.store.get_session(session_id)
        if found is None:
            raise NotFound(f"no session {session_id!r}")
        return found

    async def list_sessions(self, limit: int, offset: int) -> tuple[int, list[Session]]:
        total, stored = await self.store.list_sessions(limit=limit, offset=offset)
        # A session still open shows its transcript so far, not the snapshot taken at its last message.
        return total, [
            snapshot(self.live_sessions[s.id]) if s.id in self.live_sessions else s for s in stored
        ]

    # --- writers -----------------------------------------------------------------------------------------

    async def update(
        self, message_id: str, *, read: bool | None = None, tags: tuple[str, ...] | None = None
    ) -> MessageSummary:
        resolved = await self.resolve_id(message_id)
        updated = await self.store.update(resolved, read=read, tags=tags)
        if updated is None:
            raise NotFound(f"no message {message_id!r}")
        self.hub.publish(Event("message.updated", to_json(updated), updated))
        return updated

    async def delete(self, message_id: str) -> None:
        resolved = await self.resolve_id(message_id)
        if not await self.store.delete([resolved]):
            raise NotFound(f"no message {message_id!r}")
        self.hub.publish(Event("message.deleted", {"ids": [resolved]}))

    async def delete_matching(self, query: Query | None) -> list[str]:
        deleted = await self.store.delete_matching(query)
        if not query:
            self.hub.publish(Event("messages.cleared", {"ids": deleted}))
        elif deleted:
            self.hub.publish(Event("message.deleted", {"ids": deleted}))
        return deleted


def session_json(session: Session, *, transcript: bool = True) -> dict[str, object]:
    if transcript:
        data: dict[str, object] = to_json(session)
        return data
    # A long session's transcript is thousands of lines: do not convert what is thrown away.
    return {
        name: to_json(getattr(session, attr)) for name, attr in json_fields(Session) if name != "transcript"
    }
