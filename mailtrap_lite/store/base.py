"""The Store protocol: what the rest of the program may ask of a message store, and what a new backend
implements.

A backend is added by implementing ``Store`` and passing tests/store/test_store.py, the conformance suite
that runs unchanged on every backend. Nothing outside ``store/`` imports a backend's internals. What every
backend must guarantee:

- Durability before the ``250``: ``ingest`` returns only once the message is durable in that store's
  terms (held in memory, or committed), because the SMTP reply waits on it; if it raises, the message is
  answered ``451`` and must not appear later.
- Order: messages are listed newest first in the order ``ingest`` returned (ids are time-ordered); a
  listing or read issued after ``ingest`` returned sees the message. ``MailService.wait_matching`` and the
  ``message.new`` event rely on this: the event is published after ``ingest`` returns, and a listing made
  on that event must contain the message.
- Sessions are immutable ``Session`` snapshots and a store keeps the one it was given. The snapshot an
  ``Arrival`` carries has no ``message_ids``: the store lists, for a session, the ids it was last saved
  with followed by the ids of the messages it stored for it since (``save_session`` at the end of a
  session passes them all). A store may keep private bookkeeping per session id (e.g. how much of a
  transcript it wrote) but never a live object that someone else changes.
- Tags: ``ingest`` stores a message with its arrival's ``tags`` and then the name of every tag rule the
  store was made with whose query matches the parsed message (``tags.tag_stored``). A store changes a
  message's tags only as ``tags.merge`` does, and keeps an index so that a ``tag:`` search reads only
  the messages with that tag, and counting tags reads no message's summary.
- Mailboxes: each message is in one mailbox (``summary.mailbox``, lower-case), fixed at ingest. Listing
  one mailbox (a query that is one ``mailbox:`` term) must cost what listing everything costs, however
  many messages other mailboxes hold: keep an index per mailbox and per-mailbox counters.
- A session whose every message is deleted (by ``delete``, ``delete_matching`` or ``prune``) is deleted
  with them, and a session's ``message_ids`` list only messages still stored; sessions that delivered
  nothing are kept (up to ``Retention.max_messages``).
- Releases and the relay queue: ``add_release`` appends a release to a message and settles the queue
  item it came from in one durable write, so that a forward the next hop accepted is never queued again
  once ``add_release`` returned. Queue items outlive a restart in a store that is durable.
- UIDs (IMAP, RFC 3501 §2.3.1.1): the store gives every message it keeps a ``summary.uid`` from one
  store-wide counter, 1 to 2**32 - 1, never reused (not even after deletion), so UIDs are strictly
  ascending in every mailbox in arrival order. ``uid_state`` says what the next UID will be and the
  store's UIDVALIDITY, which changes only when the counter starts again (a new memory store, a new
  database file); a persistent store keeps both across restarts.
- Every method is a coroutine so that a store may work off the event loop; all are called from the loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from mailtrap_lite.events import EventHub
from mailtrap_lite.faults import FaultEngine
from mailtrap_lite.model import Arrival, MessageSummary, Page, RelayItem, Release, Session, StoredMessage
from mailtrap_lite.search import Query


@dataclass(frozen=True, slots=True)
class StoreStats:
    kind: str
    messages: int
    unread: int
    sessions: int
    bytes: int
    db_size: int | None = None
    unindexed: int = 0  # messages stored but not yet in the full-text index (searches still find them)
    writable: bool = True  # False when new messages cannot be stored (they are answered 451)
    problem: str | None = None  # why not, while writable is False


# The size of the pieces a raw message is streamed in.
RAW_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class RawStream:
    """A stored message's bytes, read piece by piece: ``size`` bytes in all."""

    size: int
    chunks: AsyncIterator[bytes]


def stream_of(raw: bytes) -> RawStream:
    """A stream over bytes already in memory."""

    async def chunks() -> AsyncIterator[bytes]:
        view = memoryview(raw)
        for start in range(0, len(view), RAW_CHUNK_BYTES):
            yield bytes(view[start : start + RAW_CHUNK_BYTES])

    return RawStream(len(raw), chunks())


@dataclass(frozen=True, slots=True)
class TagCount:
    name: str  # as ``tag:`` compares it (``search.tag_key``)
    count: int  # messages with the tag


@dataclass(frozen=True, slots=True)
class UidState:
    validity: int  # UIDVALIDITY: 1 to 2**32 - 1
    next: int  # the UID the next message stored will get


@dataclass(frozen=True, slots=True)
class MailboxStats:
    name: str
    total: int
    unread: int
    size: int  # bytes
    newest: datetime | None  # when its newest message arrived


@dataclass(frozen=True, slots=True)
class Retention:
    """How many messages, and how old, each mailbox keeps (not the store as a whole); ``overrides`` are
    ``(mailbox, max_messages, max_age_seconds)`` for mailboxes with their own, where None inherits."""

    max_messages: int | None
    max_age_seconds: float | None
    overrides: tuple[tuple[str, int | None, float | None], ...] = ()

    def of(self, mailbox: str) -> tuple[int | None, float | None]:
        """``(max_messages, max_age_seconds)`` for one mailbox."""
        for name, max_messages, max_age in self.overrides:
            if name == mailbox:
                return (
                    self.max_messages if max_messages is None else max_messages,
                    self.max_age_seconds if max_age is None else max_age,
                )
        return self.max_messages, self.max_age_seconds

    @property
    def ages(self) -> bool:
        """Whether any mailbox has a maximum age (then pruning has work even when nothing arrived)."""
        return self.max_age_seconds is not None or any(age is not None for _, _, age in self.overrides)


class Store(Protocol):
    kind: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ingest(self, arrival: Arrival) -> StoredMessage:
        """Parse a message about to be acknowledged (``message.build_message``) and store it with its
        session's snapshot; returns it once durable. Each store parses where it is cheapest for the loop."""

    async def add(self, message: StoredMessage, session: Session) -> None:
        """Store a message already parsed, with ``session`` as in ``ingest``; returns when durable. The
        conformance suite uses it to store summaries that no raw message parses into (search edge cases)."""

    async def save_session(self, session: Session) -> None:
        """Insert or replace a session (called when it ends, with every message id it delivered)."""

    async def list_messages(
        self, query: Query | None = None, *, limit: int = 50, offset: int = 0
    ) -> Page: ...

    async def get_summary(self, message_id: str) -> MessageSummary | None: ...

    async def get_raw(self, message_id: str) -> bytes | None: ...

    async def raw_stream(self, message_id: str) -> RawStream | None:
        """The raw bytes for a download, without holding them all at once where the store can avoid it;
        the stream may end early (an error while iterating) if the message is deleted meanwhile."""

    async def latest_id(self) -> str | None: ...

    async def update(
        self, message_id: str, *, read: bool | None = None, tags: tuple[str, ...] | None = None
    ) -> MessageSummary | None: ...

    async def delete(self, message_ids: list[str]) -> list[str]:
        """Delete these messages; returns the ids that existed."""

    async def delete_matching(self, query: Query | None) -> list[str]:
        """Delete every message matching ``query`` (all when None); returns the deleted ids."""

    async def tag_counts(self, query: Query | None = None) -> list[TagCount]:
        """Each tag of the messages matching ``query`` (all when None) and how many carry it, by name."""

    async def retag(
        self, query: Query | None, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> list[tuple[str, str]]:
        """Change the tags of every message matching ``query`` (all when None) to
        ``tags.merge(tags, add, remove)``: renaming a tag everywhere is ``retag(tag:old, add=(new,),
        remove=(old,))``, deleting it ``retag(tag:old, remove=(old,))``. Returns (id, mailbox) of each
        message whose tags changed, newest first."""

    async def list_sessions(
        self, *, limit: int = 50, offset: int = 0, mailboxes: frozenset[str] | None = None
    ) -> tuple[int, list[Session]]:
        """Sessions, newest first; with ``mailboxes``, only those that delivered a message still stored in
        one of them."""

    async def mailbox_stats(self) -> list[MailboxStats]:
        """Every mailbox holding a message, by name."""

    async def mark_matching(self, query: Query | None, *, read: bool) -> list[str]:
        """Set the read flag of every message matching ``query`` (all when None); returns the ids whose
        flag changed."""

    async def get_session(self, session_id: str) -> Session | None: ...

    async def prune(self, retention: Retention) -> list[str]:
        """Drop the oldest messages of each mailbox beyond its retention (``Retention.of``), and the
        sessions left without messages; returns the dropped ids."""

    async def stats(self) -> StoreStats: ...

    async def uid_state(self) -> UidState: ...

    async def add_release(
        self, message_id: str, release: Release, item: RelayItem | None = None
    ) -> MessageSummary | None:
        """Append ``release`` to the message's ``releases`` and, in the same write, save ``item`` (the
        queue item the release settles; one in state ``sent`` is removed instead). Returns the updated
        summary, or None when the message is gone (``item`` is saved all the same)."""

    async def save_relay_item(self, item: RelayItem) -> None:
        """Insert or replace a queue item (a new automatic relay, a retry scheduled, a failure)."""

    async def delete_relay_item(self, item_id: str) -> bool:
        """Remove a queue item; returns whether it existed."""

    async def relay_items(self) -> list[RelayItem]:
        """Every queue item, oldest first."""


@runtime_checkable
class SharedStore(Protocol):
    """A store that several instances use at once (PostgreSQL): it also carries their live events and
    fault rules. The server calls ``share`` once the store is open; ``close`` stops the sharing."""

    async def share(self, hub: EventHub, faults: FaultEngine) -> None: ...
