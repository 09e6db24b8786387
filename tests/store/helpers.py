"""Messages and sessions for the store tests, built the way ingest builds them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from mailtrap_lite.message import build_message
from mailtrap_lite.model import Envelope, Recipient, Session, StoredMessage, utcnow
from mailtrap_lite.store.base import Store

T = TypeVar("T")


def new_session(session_id: str = "s1") -> Session:
    return Session(id=session_id, peer="127.0.0.1:40000", started_at=utcnow(), helo="client.example")


def new_message(
    session: Session,
    number: int,
    *,
    subject: str | None = None,
    to: str = "ann@example.com",
    body: str | None = None,
    received_at: datetime | None = None,
) -> StoredMessage:
    """Message ``m<number>`` of ``session``."""
    message_id = f"m{number:04d}"
    raw = (
        f"From: App <app@example.com>\r\nTo: {to}\r\nSubject: {subject or f'Message {number}'}\r\n"
        f"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{message_id}@example.com>\r\n\r\n"
        f"{body or f'Body of message number {number}.'}\r\n"
    ).encode()
    envelope = Envelope("app@example.com", recipients=(Recipient(to, 250, "2.1.5 Ok"),))
    stored = build_message(message_id, raw, envelope, session.id, False)
    if received_at is not None:
        stored = dataclasses.replace(
            stored, summary=dataclasses.replace(stored.summary, received_at=received_at)
        )
    return stored


def hours_ago(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)


def run(store: Store, scenario: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store, run the scenario on it, close it, all on one fresh event loop."""

    async def main() -> T:
        await store.open()
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())
