"""The Store protocol: what the rest of the program may ask of a message store.

Both stores (memory and SQLite) implement it and run the same test suite. Every method is a coroutine so
that a store may do its work off the event loop; ``add`` returns only once the message is durable in that
store's terms (held in memory, or committed), because the SMTP ``250`` waits on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailtrap_lite.model import Arrival, MessageSummary, Page, Session, StoredMessage
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


@dataclass(frozen=True, slots=True)
class Retention:
    max_messages: int | None
    max_age_seconds: float | None


class Store(Protocol):
    kind: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ingest(self, arrival: Arrival) -> StoredMessage:
        """Parse an acknowledged message (``message.build_message``) and ``add`` it; returns it once
        durable. Each store parses where it is cheapest for the event loop."""

    async def add(self, message: StoredMessage, session: Session) -> None:
        """Store a message and a snapshot of its session; returns when the message is durable."""

    async def save_session(self, session: Session) -> None:
        """Insert or replace a session (called when it ends, and for sessions that deliver nothing)."""

    async def list_messages(
        self, query: Query | None = None, *, limit: int = 50, offset: int = 0
    ) -> Page: ...

    async def get_summary(self, message_id: str) -> MessageSummary | None: ...

    async def get_raw(self, message_id: str) -> bytes | None: ...

    async def latest_id(self) -> str | None: ...

    async def update(
        self, message_id: str, *, read: bool | None = None, tags: tuple[str, ...] | None = None
    ) -> MessageSummary | None: ...

    async def delete(self, message_ids: list[str]) -> list[str]:
        """Delete these messages; returns the ids that existed."""

    async def delete_matching(self, query: Query | None) -> list[str]:
        """Delete every message matching ``query`` (all when None); returns the deleted ids."""

    async def list_sessions(self, *, limit: int = 50, offset: int = 0) -> tuple[int, list[Session]]: ...

    async def get_session(self, session_id: str) -> Session | None: ...

    async def prune(self, retention: Retention) -> list[str]:
        """Drop the oldest messages (and their sessions) beyond the retention; returns the dropped ids."""

    async def stats(self) -> StoreStats: ...
