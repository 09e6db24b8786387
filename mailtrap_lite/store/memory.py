"""The in-memory store: dicts in insertion (= id) order, used only from the event loop."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import heapq
import itertools
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mailtrap_lite.mailboxes import mailboxes_of, only_mailbox
from mailtrap_lite.message import PARSE_OFF_LOOP_BYTES
from mailtrap_lite.model import Arrival, MessageSummary, Page, RelayItem, Release, Session, StoredMessage
from mailtrap_lite.search import Query, flag_row_values, required_tags, sql_row_values, tag_key
from mailtrap_lite.search import compile as compile_query
from mailtrap_lite.store.base import (
    MailboxStats,
    RawStream,
    Retention,
    StoreStats,
    TagCount,
    UidState,
    stream_of,
)
from mailtrap_lite.tags import TagRule, build_tagged, merge


@dataclass(slots=True)
class _Box:
    """One mailbox: its message ids in insertion order, and its counters."""

    ids: dict[str, None] = field(default_factory=dict)
    unread: int = 0
    bytes: int = 0


class MemoryStore:
    kind = "memory"

    def __init__(self, *, tag_rules: Sequence[TagRule] = ()) -> None:
        self._tag_rules = tuple(tag_rules)
        self._messages: dict[str, StoredMessage] = {}
        # The normalised search columns of each message, computed once: searching 100k messages then
        # costs one predicate call each instead of re-normalising every body.
        self._rows: dict[str, dict[str, object]] = {}
        # Each session as last saved, and the ids of its messages stored since: an arrival's snapshot of
        # its session does not list them (see ``Session``).
        self._sessions: dict[str, Session] = {}
        self._stored_since: dict[str, list[str]] = {}
        self._bytes = 0
        # Kept up to date: counting 100k summaries per page view costs milliseconds.
        self._unread: set[str] = set()
        # The tag index: per tag (as ``tag:`` compares it), the ids of its messages; and each message's
        # place in ``_messages``, to list a tag's messages newest first without scanning the others.
        self._tagged: dict[str, set[str]] = collections.defaultdict(set)
        self._order: dict[str, int] = {}
        self._added = 0
        self._boxes: dict[str, _Box] = {}
        self._live: dict[str, int] = {}  # per session id: how many of its messages are stored
        self._last_uid = 0
        self._uid_validity = int(time.time()) % 0xFFFFFFFF or 1  # a new store counts UIDs from 1 again
        # One thread parses large messages, one after another. Parsing holds the GIL most of the time, so
        # more threads would not parse faster; they would only take turns with the event loop for the GIL
        # and make it wait longer (measured in benchmarks/README.md).
        self._parser = ThreadPoolExecutor(1, thread_name_prefix="mailtrap-parse")
        self._relay_items: dict[str, RelayItem] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self._parser.shutdown(wait=True)

    async def ingest(self, arrival: Arrival) -> StoredMessage:
        if len(arrival.raw) > PARSE_OFF_LOOP_BYTES:
            stored = await asyncio.get_running_loop().run_in_executor(
                self._parser, build_tagged, arrival, self._tag_rules
            )
        else:
            stored = build_tagged(arrival, self._tag_rules)
        await self.add(stored, arrival.session)
        return self._messages[stored.summary.id]

    async def add(self, message: StoredMessage, session: Session) -> None:
        self._last_uid += 1
        message = dataclasses.replace(
            message, summary=dataclasses.replace(message.summary, uid=self._last_uid)
        )
        self._messages[message.summary.id] = message
        self._rows[message.summary.id] = sql_row_values(message.summary, message.body_text)
        summary = message.summary
        self._added += 1
        self._order[summary.id] = self._added
        self._index_tags(summary.id, (), summary.tags)
        self._bytes += summary.size
        if not summary.read:
            self._unread.add(summary.id)
        box = self._boxes.setdefault(self._box_name(summary.id), _Box())
        box.ids[summary.id] = None
        box.bytes += summary.size
        box.unread += not summary.read
        self._sessions[session.id] = session
        self._stored_since.setdefault(session.id, []).append(summary.id)
        self._live[summary.session_id] = self._live.get(summary.session_id, 0) + 1

    def _box_name(self, message_id: str) -> str:
        """The mailbox of a stored message as queries name it (the search column: lower-case)."""
        return str(self._rows[message_id]["mailbox"])

    async def save_session(self, session: Session) -> None:
        if session.message_ids and not self._live.get(session.id):  # all its messages were deleted
            self._forget_session(session.id)
            return
        self._sessions[session.id] = session
        self._stored_since.pop(session.id, None)

    def _forget_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self._stored_since.pop(session_id, None)
        self._live.pop(session_id, None)

    def _session(self, session_id: str) -> Session:
        session = self._sessions[session_id]
        later = self._stored_since.get(session_id, ())
        known = set(session.message_ids)
        ids = (*session.message_ids, *(i for i in later if i not in known))
        return dataclasses.replace(session, message_ids=tuple(i for i in ids if i in self._messages))

    def _newest_first(self, query: Query | None) -> Iterable[StoredMessage]:
        """Every message that may match ``query``, newest first: one mailbox's only, when it names one."""
        names = mailboxes_of(query)
        if names is None or len(names) != 1:
            return reversed(self._messages.values())
        box = self._boxes.get(next(iter(names)))
        return (self._messages[i] for i in reversed(box.ids)) if box else ()

    def _index_tags(self, message_id: str, old: Sequence[str], new: Sequence[str]) -> None:
        for key in {tag_key(tag) for tag in old} - {tag_key(tag) for tag in new}:
            self._tagged[key].discard(message_id)
            if not self._tagged[key]:
                del self._tagged[key]
        for key in {tag_key(tag) for tag in new} - {""}:
            self._tagged[key].add(message_id)

    def _matching(self, query: Query | None) -> list[StoredMessage]:
        if not query:
            return list(reversed(self._messages.values()))
        accept = compile_query(query)
        tags = required_tags(query)
        if tags:  # only the messages of the rarest tag the query requires are candidates
            fewest = min((self._tagged.get(tag, set()) for tag in tags), key=len)
            candidates = sorted(fewest, key=self._order.__getitem__, reverse=True)
            return [self._messages[i] for i in candidates if accept(self._rows[i])]
        return [m for m in self._newest_first(query) if accept(self._rows[m.summary.id])]

    async def list_messages(self, query: Query | None = None, *, limit: int = 50, offset: int = 0) -> Page:
        mailbox = only_mailbox(query)
        if not query or mailbox is not None:  # from the counters: no need to build a list of every message
            total, unread = len(self._messages), len(self._unread)
            if mailbox is not None:
                box = self._boxes.get(mailbox)
                total, unread = (len(box.ids), box.unread) if box else (0, 0)
            newest_first = self._newest_first(query)
            page = tuple(m.summary for m in itertools.islice(newest_first, offset, offset + limit))
            return Page(total=total, unread=unread, messages=page)
        tags = required_tags(query)
        if len(tags) == len(query.terms):  # only tags: the index answers, no message is read
            with_all = set.intersection(*(self._tagged.get(tag, set()) for tag in tags))
            newest = heapq.nlargest(offset + limit, with_all, key=self._order.__getitem__)[offset:]
            page = tuple(self._messages[i].summary for i in newest)
            return Page(total=len(with_all), unread=len(with_all & self._unread), messages=page)
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
        if summary.read:
            self._unread.discard(message_id)
        else:
            self._unread.add(message_id)
        self._boxes[self._box_name(message_id)].unread += stored.summary.read - summary.read
        self._index_tags(message_id, stored.summary.tags, summary.tags)
        self._messages[message_id] = dataclasses.replace(stored, summary=summary)
        self._rows[message_id].update(flag_row_values(summary))
        return summary

    async def delete(self, message_ids: list[str]) -> list[str]:
        deleted = []
        for message_id in message_ids:
            stored = self._messages.pop(message_id, None)
            if stored is None:
                continue
            summary = stored.summary
            name = self._box_name(message_id)
            del self._rows[message_id]
            del self._order[message_id]
            self._index_tags(message_id, summary.tags, ())
            self._bytes -= summary.size
            self._unread.discard(message_id)
            box = self._boxes[name]
            del box.ids[message_id]
            box.bytes -= summary.size
            box.unread -= not summary.read
            if not box.ids:
                del self._boxes[name]
            left = self._live[summary.session_id] - 1
            self._live[summary.session_id] = left
            if not left:
                self._forget_session(summary.session_id)
            deleted.append(message_id)
        return deleted

    async def delete_matching(self, query: Query | None) -> list[str]:
        return await self.delete([m.summary.id for m in self._matching(query)])

    async def tag_counts(self, query: Query | None = None) -> list[TagCount]:
        if not query:
            counts = {tag: len(ids) for tag, ids in self._tagged.items()}
        else:
            found = self._matching(query)
            counts = collections.Counter(key for m in found for key in {tag_key(t) for t in m.summary.tags})
        return [TagCount(name, count) for name, count in sorted(counts.items())]

    async def retag(
        self, query: Query | None, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> list[tuple[str, str]]:
        changed = []
        for stored in self._matching(query):
            tags = merge(stored.summary.tags, add, remove)
            if tags != stored.summary.tags:
                await self.update(stored.summary.id, tags=tags)
                changed.append((stored.summary.id, stored.summary.mailbox))
        return changed

    async def mark_matching(self, query: Query | None, *, read: bool) -> list[str]:
        changed = [m.summary.id for m in self._matching(query) if m.summary.read != read]
        for message_id in changed:
            await self.update(message_id, read=read)
        return changed

    async def mailbox_stats(self) -> list[MailboxStats]:
        return [
            MailboxStats(
                name,
                len(box.ids),
                box.unread,
                box.bytes,
                self._messages[next(reversed(box.ids))].summary.received_at,
            )
            for name, box in sorted(self._boxes.items())
        ]

    async def list_sessions(
        self, *, limit: int = 50, offset: int = 0, mailboxes: frozenset[str] | None = None
    ) -> tuple[int, list[Session]]:
        newest_first: Iterable[str] = reversed(self._sessions)
        total = len(self._sessions)
        if mailboxes is not None:
            boxes = [self._boxes[name] for name in mailboxes if name in self._boxes]
            delivered = {self._messages[i].summary.session_id for box in boxes for i in box.ids}
            newest_first = [session_id for session_id in newest_first if session_id in delivered]
            total = len(newest_first)
        page = itertools.islice(newest_first, offset, offset + limit)
        return total, [self._session(session_id) for session_id in page]

    async def get_session(self, session_id: str) -> Session | None:
        return self._session(session_id) if session_id in self._sessions else None

    async def prune(self, retention: Retention) -> list[str]:
        doomed: list[str] = []
        now = time.time()
        for name, box in self._boxes.items():
            max_messages, max_age = retention.of(name)
            first = len(doomed)
            if max_age is not None:
                for message_id in box.ids:
                    if self._messages[message_id].summary.received_at.timestamp() >= now - max_age:
                        break
                    doomed.append(message_id)
            if max_messages is not None:
                excess = len(box.ids) - (len(doomed) - first) - max_messages
                if excess > 0:
                    doomed.extend(
                        itertools.islice(box.ids, len(doomed) - first, len(doomed) - first + excess)
                    )
        deleted = await self.delete(doomed)
        self._prune_sessions(retention)
        return deleted

    def _prune_sessions(self, retention: Retention) -> None:
        # Sessions that delivered nothing are kept up to the retention's count; the others go with their
        # last message (``delete``).
        if retention.max_messages is None:
            return
        delivered = {sid for sid, session in self._sessions.items() if session.message_ids}
        delivered.update(self._stored_since)
        empty = [sid for sid in self._sessions if sid not in delivered]
        for session_id in empty[: max(0, len(empty) - retention.max_messages)]:
            del self._sessions[session_id]

    async def uid_state(self) -> UidState:
        return UidState(self._uid_validity, self._last_uid + 1)

    async def stats(self) -> StoreStats:
        return StoreStats(
            kind=self.kind,
            messages=len(self._messages),
            unread=len(self._unread),
            sessions=len(self._sessions),
            bytes=self._bytes,
        )

    async def add_release(
        self, message_id: str, release: Release, item: RelayItem | None = None
    ) -> MessageSummary | None:
        if item is not None:
            await self.save_relay_item(item)
        stored = self._messages.get(message_id)
        if stored is None:
            return None
        summary = dataclasses.replace(stored.summary, releases=(*stored.summary.releases, release))
        self._messages[message_id] = dataclasses.replace(stored, summary=summary)
        return summary

    async def save_relay_item(self, item: RelayItem) -> None:
        if item.state == "sent":
            self._relay_items.pop(item.id, None)
        else:
            self._relay_items[item.id] = item

    async def delete_relay_item(self, item_id: str) -> bool:
        return self._relay_items.pop(item_id, None) is not None

    async def relay_items(self) -> list[RelayItem]:
        return sorted(self._relay_items.values(), key=lambda item: (item.created_at, item.id))
