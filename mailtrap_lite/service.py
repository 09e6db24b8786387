"""What the protocol layers (SMTP, HTTP, websocket, the pytest plugin) ask of mailtrap-lite.

Plain coroutines over the store and the event hub: ingest a message, list, read, change and delete, and
publish an event for every change. Nothing here knows about sockets or HTTP.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, cast

from mailtrap_lite import html_preview, ids
from mailtrap_lite import message as mime
from mailtrap_lite.errors import BadRequest, NotFound, StoreError, StoreUnavailable
from mailtrap_lite.events import Event, EventHub, Subscription
from mailtrap_lite.looplag import LoopLag
from mailtrap_lite.mailboxes import Routing
from mailtrap_lite.model import (
    Arrival,
    Envelope,
    Message,
    MessageSummary,
    Page,
    Part,
    Recipient,
    Reply,
    Session,
    StoredMessage,
    TranscriptLine,
    to_json,
    utcnow,
)
from mailtrap_lite.read_cache import ReadCache
from mailtrap_lite.search import Query, Term, matches, tag_key
from mailtrap_lite.session_log import SessionLog
from mailtrap_lite.smtp import replies
from mailtrap_lite.store.base import MailboxStats, RawStream, Retention, Store, StoreStats, TagCount
from mailtrap_lite.tags import Tagging, normalize, normalize_all
from mailtrap_lite.wire import MessagesTagged, record_json, session_json

log = logging.getLogger("mailtrap_lite")

R = TypeVar("R")

PartContent = tuple[str, str | None, bytes]  # content type, file name, decoded bytes


@dataclass(frozen=True, slots=True)
class ServiceStats:
    store: StoreStats
    uptime_seconds: float
    received: int
    received_bytes: int
    rejected_by_reason: dict[str, int]  # DATA transfers answered with an error, by why
    sessions_total: int
    open_sessions: int
    subscribers: int
    loop_lag_ms: dict[str, float | int]

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str | None


class MailService:
    def __init__(
        self,
        store: Store,
        hub: EventHub,
        retention: Retention,
        routing: Routing | None = None,
        tagging: Tagging | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.retention = retention
        self.routing = routing or Routing()
        self.tagging = tagging or Tagging()
        self.started = time.time()
        self.received = 0
        self.received_bytes = 0
        self.rejected: collections.Counter[str] = collections.Counter()
        self.sessions_total = 0
        self.live_sessions: dict[str, SessionLog] = {}
        self._added_since_prune = 0
        self.loop_lag = LoopLag()
        # Reads parse on one thread of their own, whatever the size: a small message with hundreds of
        # nested parts can take longer to parse than a large flat one. What they parsed is kept.
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="mailtrap-read")
        # Parsed messages, decoded parts and rendered HTML previews, by message id.
        self.read_cache: ReadCache[object] = ReadCache()
        # Called with each message once stored, before its 250 is sent: each must return at once.
        self.stored_hooks: list[Callable[[StoredMessage], None]] = []

    async def close(self) -> None:
        self.read_cache.clear()
        await asyncio.get_running_loop().run_in_executor(None, self._reader.shutdown)

    # --- SMTP side ---------------------------------------------------------------------------------------

    async def ingest(self, arrival: Arrival) -> MessageSummary:
        mailbox, rule = self.routing.route(arrival)
        tags = self.tagging.arrival_tags(arrival)
        arrival = dataclasses.replace(arrival, mailbox=mailbox, mailbox_rule=rule, tags=tags)
        stored = await self.store.ingest(arrival)
        self.received += 1
        self.received_bytes += len(arrival.raw)
        self._added_since_prune += 1
        self.hub.publish_new("message.new", lambda: to_json(stored.summary), stored)
        for hook in self.stored_hooks:
            hook(stored)
        return stored.summary

    async def submit(
        self,
        raw: bytes,
        mail_from: str,
        recipients: Sequence[str],
        *,
        peer: str,
        via: str = "POST /api/messages",
        mailboxes: frozenset[str] | None = None,
    ) -> MessageSummary:
        """Store a message handed over HTTP as if it came over SMTP with this envelope, in a session of
        its own (``protocol="http"``) whose transcript says how it came: ``via`` the request. With
        ``mailboxes`` (a user's ``--mailbox-access``), a message that routing puts elsewhere is refused
        (BadRequest) before anything is stored."""
        message_id = ids.new_id()
        queued = replies.QUEUED.format(id=message_id)
        envelope = Envelope(
            mail_from=mail_from,
            recipients=tuple(Recipient(address, 250, replies.RCPT_OK[4:]) for address in recipients),
            data=Reply(250, queued[4:]),
        )
        lines = [
            f"{via}: {len(raw)} bytes of message/rfc822 over HTTP, not SMTP",
            f"MAIL FROM:<{mail_from}>",
            *(f"RCPT TO:<{address}>" for address in recipients),
        ]
        transcript = [TranscriptLine(0, "C", line) for line in lines]
        transcript.append(TranscriptLine(0, "S", queued))
        now = utcnow()
        session = Session(
            ids.new_id(), peer, started_at=now, ended_at=now, transcript=tuple(transcript), protocol="http"
        )
        arrival = Arrival(message_id, raw, envelope, session)
        if mailboxes is not None:
            mailbox, _ = self.routing.route(arrival)
            if mailbox not in mailboxes:
                allowed = ", ".join(sorted(mailboxes))
                raise BadRequest(
                    f"this message would go to mailbox {mailbox!r}; you may post only to {allowed}"
                )
        self.sessions_total += 1
        summary = await self.ingest(arrival)
        await self.session_ended(dataclasses.replace(session, message_ids=(message_id,)))
        return summary

    def session_started(self, session: SessionLog) -> None:
        self.sessions_total += 1
        self.live_sessions[session.id] = session

    async def session_ended(self, session: Session) -> None:
        try:
            await self.store.save_session(session)
        except StoreError as error:  # nobody waits on this: say so, and keep serving
            quiet = isinstance(error, StoreUnavailable)  # the store reported the outage once
            log.log(
                logging.DEBUG if quiet else logging.WARNING, "session %s was not saved: %s", session.id, error
            )
            return
        finally:
            # Only now: until the store has the final session, readers get the live one, never an older
            # snapshot without the last replies.
            self.live_sessions.pop(session.id, None)
        self.hub.publish_new("session.ended", lambda: session_json(session, transcript=False), session)

    async def prune(self) -> list[str]:
        """Apply retention; cheap when nothing was added since the last call."""
        if not self._added_since_prune and not self.retention.ages:
            return []
        self._added_since_prune = 0
        pruned = await self.store.prune(self.retention)
        self.read_cache.invalidate(pruned)
        if pruned:
            self.hub.publish(Event("message.deleted", {"ids": pruned, "reason": "retention"}))
        return pruned

    def record_rejection(self, reason: str) -> None:
        """A message was refused after DATA (too big, a fault rule, the store failed, ...)."""
        self.rejected[reason] += 1

    # --- readers -----------------------------------------------------------------------------------------

    async def stats(self) -> ServiceStats:
        return ServiceStats(
            store=await self.store.stats(),
            uptime_seconds=round(time.time() - self.started, 3),
            received=self.received,
            received_bytes=self.received_bytes,
            rejected_by_reason=dict(self.rejected),
            sessions_total=self.sessions_total,
            open_sessions=len(self.live_sessions),
            subscribers=self.subscribers,
            loop_lag_ms=self.loop_lag.snapshot(),
        )

    async def ready(self) -> Readiness:
        """Whether new messages can be stored, and why not (meanwhile they are answered 451)."""
        stored = await self.store.stats()
        return Readiness(stored.writable, None if stored.writable else stored.problem or "unknown")

    @property
    def subscribers(self) -> int:
        """Live-event subscriptions now open (websockets and waiters)."""
        return self.hub.subscriber_count

    def subscribe(self, accept: Callable[[Event], bool]) -> Subscription:
        """Events from now on that ``accept`` takes; close the subscription when done."""
        return self.hub.subscribe(accept)

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
        subscription = self.subscribe(relevant)
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
                    subscription = self.subscribe(relevant)
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
        return summary, await self._raw_of(summary, message_id)

    async def raw_stream(self, message_id: str) -> tuple[MessageSummary, RawStream]:
        """The bytes as received, for a download: read from the store piece by piece."""
        summary = await self.summary(message_id)
        stream = await self.store.raw_stream(summary.id)
        if stream is None:
            raise NotFound(f"no message {message_id!r}")
        return summary, stream

    async def _raw_of(self, summary: MessageSummary, message_id: str) -> bytes:
        raw = await self.store.get_raw(summary.id)
        if raw is None:
            raise NotFound(f"no message {message_id!r}")
        return raw

    async def message(self, message_id: str) -> Message:
        summary = await self.summary(message_id)
        parsed = await self._parsed(summary, message_id)
        # Read flag and tags change after the parse: the summary is always the current one.
        return dataclasses.replace(parsed, summary=summary)

    async def part(self, message_id: str, part_id: str) -> PartContent:
        summary = await self.summary(message_id)

        async def load() -> tuple[object, int]:
            raw = await self._raw_of(summary, message_id)
            found = await self._off_loop(mime.part_content, raw, part_id)
            if found is None:
                raise NotFound(f"no part {part_id!r} in message {message_id!r}")
            return found, len(found[2])

        return cast(PartContent, await self.read_cache.get(summary.id, part_id, load))

    async def html_preview(self, message_id: str, *, allow_remote: bool) -> html_preview.Preview:
        """The HTML body rewritten for the sandboxed preview (``cid:`` to part URLs, remote content
        blocked unless allowed); NotFound when the message has no HTML body."""
        summary = await self.summary(message_id)
        parsed = await self._parsed(summary, message_id)
        html = parsed.html
        if html is None:
            raise NotFound(f"message {summary.id!r} has no HTML body")
        cids = html_preview.content_ids(parsed.parts)

        async def load() -> tuple[object, int]:
            rendered = await self._off_loop(
                functools.partial(html_preview.render, html, cids=cids, allow_remote=allow_remote)
            )
            return rendered, len(rendered.html)

        return cast(html_preview.Preview, await self.read_cache.get(summary.id, ("html", allow_remote), load))

    async def _parsed(self, summary: MessageSummary, message_id: str) -> Message:
        async def load() -> tuple[object, int]:
            parsed = await self._off_loop(mime.parse_full, summary, await self._raw_of(summary, message_id))
            return parsed, _message_bytes(parsed)

        return cast(Message, await self.read_cache.get(summary.id, None, load))

    async def _off_loop(self, work: Callable[..., R], *args: object) -> R:
        """Run a parse or a render on the service's reading thread, never on the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._reader, work, *args)

    async def session(self, session_id: str) -> Session:
        live = self.live_sessions.get(session_id)
        if live is not None:
            return live.snapshot()
        found = await self.store.get_session(session_id)
        if found is None:
            raise NotFound(f"no session {session_id!r}")
        return found

    async def mailboxes(self, allowed: frozenset[str] | None = None) -> list[MailboxStats]:
        """Every mailbox that holds mail or that the configuration names (``default`` always), by name;
        with ``allowed``, only those."""
        stored = {found.name: found for found in await self.store.mailbox_stats()}
        for name in self.routing.names:
            stored.setdefault(name, MailboxStats(name, 0, 0, 0, None))
        return [stored[name] for name in sorted(stored) if allowed is None or name in allowed]

    async def list_sessions(
        self, limit: int, offset: int, mailboxes: frozenset[str] | None = None
    ) -> tuple[int, list[Session]]:
        """Sessions, newest first; with ``mailboxes``, those that delivered mail still stored there."""
        total, stored = await self.store.list_sessions(limit=limit, offset=offset, mailboxes=mailboxes)
        # A session still open shows its transcript so far, not the snapshot taken at its last message.
        return total, [
            self.live_sessions[s.id].snapshot() if s.id in self.live_sessions else s for s in stored
        ]

    # --- writers -----------------------------------------------------------------------------------------

    async def update(
        self, message_id: str, *, read: bool | None = None, tags: tuple[str, ...] | None = None
    ) -> MessageSummary:
        resolved = await self.resolve_id(message_id)
        if tags is not None:
            tags = normalize_all(tags)
        updated = await self.store.update(resolved, read=read, tags=tags)
        if updated is None:
            raise NotFound(f"no message {message_id!r}")
        self.hub.publish(Event("message.updated", to_json(updated), updated))
        return updated

    async def tags(self, query: Query | None) -> list[TagCount]:
        """Each tag of the messages matching ``query`` (all when None) and how many carry it."""
        return await self.store.tag_counts(query)

    async def retag(
        self, query: Query | None, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> list[str]:
        """Add and remove tags on every message matching ``query`` (all when None); TagError for a bad
        tag. Returns the ids that changed, newest first; a ``messages.tagged`` event per mailbox lists
        its messages that changed and how (so a client sees only its mailboxes' events)."""
        added, removed = normalize_all(add), normalize_all(remove)
        changed = await self.store.retag(query, add=added, remove=removed)
        by_mailbox: dict[str, list[str]] = {}
        for message_id, mailbox in changed:
            by_mailbox.setdefault(mailbox, []).append(message_id)
        for mailbox, in_mailbox in sorted(by_mailbox.items()):
            tagged = MessagesTagged(mailbox, tuple(in_mailbox), added, removed)
            self.hub.publish(Event("messages.tagged", record_json(tagged), mailbox))
        return [message_id for message_id, _ in changed]

    async def rename_tag(self, old: str, new: str, within: Query | None = None) -> list[str]:
        """Rename a tag on every message (of those ``within`` matches; merging it into ``new`` where both
        are); NotFound when no message has it."""
        old_name, new_name = normalize(old), normalize(new)
        if old_name == new_name:
            return []
        changed = await self.retag(_tagged(old_name, within), add=[new_name], remove=[old_name])
        if not changed:
            raise NotFound(f"no message has the tag {old_name!r}")
        return changed

    async def delete_tag(self, tag: str, within: Query | None = None) -> list[str]:
        """Remove a tag from every message (of those ``within`` matches); NotFound when no message has
        it."""
        name = normalize(tag)
        changed = await self.retag(_tagged(name, within), remove=[name])
        if not changed:
            raise NotFound(f"no message has the tag {name!r}")
        return changed

    async def mark_matching(self, query: Query | None, *, read: bool) -> list[str]:
        """Mark every message matching ``query`` read or unread; one ``messages.updated`` event says
        which changed."""
        changed = await self.store.mark_matching(query, read=read)
        if changed:
            self.hub.publish(Event("messages.updated", {"ids": changed, "read": read}))
        return changed

    async def mark_ids(self, message_ids: list[str], *, read: bool) -> list[str]:
        """``mark_matching`` for the messages with these ids; NotFound names the first that is missing."""
        changed = []
        for message_id in message_ids:
            before = await self.summary(message_id)
            if before.read != read:
                await self.store.update(before.id, read=read)
                changed.append(before.id)
        if changed:
            self.hub.publish(Event("messages.updated", {"ids": changed, "read": read}))
        return changed

    async def delete(self, message_id: str) -> None:
        resolved = await self.resolve_id(message_id)
        deleted = await self.store.delete([resolved])
        self.read_cache.invalidate(deleted)
        if not deleted:
            raise NotFound(f"no message {message_id!r}")
        self.hub.publish(Event("message.deleted", {"ids": [resolved]}))

    async def delete_matching(self, query: Query | None) -> list[str]:
        deleted = await self.store.delete_matching(query)
        self.read_cache.invalidate(deleted)
        if not query:
            self.hub.publish(Event("messages.cleared", {"ids": deleted}))
        elif deleted:
            self.hub.publish(Event("message.deleted", {"ids": deleted}))
        return deleted


def _tagged(tag: str, within: Query | None) -> Query:
    """``within`` AND ``tag:<tag>``, for any tag."""
    return Query((*(within.terms if within else ()), Term("tag", tag_key(tag))))


def _message_bytes(message: Message) -> int:
    """Roughly what a parsed message holds in memory: its bodies, headers and MIME tree."""

    def tree(part: Part) -> int:
        return 256 + sum(tree(child) for child in part.children)

    headers = sum(len(name) + len(value) for name, value in message.headers)
    return len(message.text or "") + len(message.html or "") + headers + tree(message.parts)
