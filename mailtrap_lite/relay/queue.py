"""The store-and-forward queue: automatic relays that met a 4xx or no answer, retried with backoff.

The queue lives in the store (``Store.relay_items``), so with ``--db`` it survives a restart, kill -9
included. One task works through the items that are due, one at a time, and sleeps until the next one is;
whatever changes the queue wakes it. An item is settled (``Store.add_release``) in the same write that
records its release, after the next hop answered: a forward that got its ``250`` is never sent again once
that write returned. The window between the next hop's ``250`` and that write (milliseconds) remains: a
crash inside it sends the message again after the restart, the duplicate RFC 5321 §6.1 prefers to a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from mailtrap_lite.errors import StoreError
from mailtrap_lite.model import RelayItem, Release
from mailtrap_lite.relay.clock import Clock
from mailtrap_lite.store.base import Store

log = logging.getLogger("mailtrap_lite.relay")

STORE_RETRY_SECONDS = 5.0


def backoff(attempts: int, base: float) -> float:
    """Seconds before the next try after ``attempts`` tries: base, 2 base, 4 base and so on"""
    return float(base * 2 ** (attempts - 1))


def after_attempt(
    item: RelayItem, release: Release, deferred_to: tuple[str, ...], *, now: float, retries: int, base: float
) -> RelayItem:
    """What becomes of a queue item after one try: ``sent`` (removed), queued again, or ``failed``."""
    tried = dataclasses.replace(
        item, attempts=item.attempts + 1, last_code=release.code, last_error=release.error, next_at=None
    )
    if release.result == "sent" and not deferred_to:
        return dataclasses.replace(tried, state="sent")
    if release.result == "sent":
        tried = dataclasses.replace(tried, to=deferred_to)  # the recipients answered 4xx, tried again alone
    if release.result == "refused" or tried.attempts >= retries:
        return dataclasses.replace(tried, state="failed")
    next_at = datetime.fromtimestamp(now + backoff(tried.attempts, base), UTC)
    return dataclasses.replace(tried, state="queued", next_at=next_at)


class RelayQueue:
    def __init__(self, store: Store, clock: Clock, attempt: Callable[[RelayItem], Awaitable[None]]) -> None:
        self.store = store
        self.clock = clock
        self._attempt = attempt
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def kick(self) -> None:
        """The queue changed: look again."""
        self._wake.set()

    async def add(self, item: RelayItem) -> None:
        await self.store.save_relay_item(item)
        self.kick()

    async def retry(self, item_id: str) -> RelayItem | None:
        """Make an item due now; a failed one gets its tries back."""
        item = next((i for i in await self.store.relay_items() if i.id == item_id), None)
        if item is None:
            return None
        attempts = 0 if item.state == "failed" else item.attempts
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        item = dataclasses.replace(item, state="queued", attempts=attempts, next_at=now)
        await self.add(item)
        return item

    async def drop(self, item_id: str) -> bool:
        return await self.store.delete_relay_item(item_id)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                next_at = await self._work_through_due()
            except StoreError as error:
                log.warning("the relay queue cannot read the store: %s", error)
                next_at = self.clock.now() + STORE_RETRY_SECONDS
            except Exception:
                log.exception("the relay queue failed")
                next_at = self.clock.now() + STORE_RETRY_SECONDS
            await self.clock.sleep_until(next_at, self._wake)

    async def _work_through_due(self) -> float:
        """Try every item that is due; returns when the next one will be (infinity: none waits)."""
        while True:
            waiting = [item for item in await self.store.relay_items() if item.state == "queued"]
            now = self.clock.now()
            due = [item for item in waiting if item.next_at is None or item.next_at.timestamp() <= now]
            if not due:
                later = (item.next_at.timestamp() for item in waiting if item.next_at)
                return min(later, default=float("inf"))
            for item in due:
                await self._attempt(item)
