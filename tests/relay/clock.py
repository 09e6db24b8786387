"""A clock the relay-queue tests move by hand, and a way to watch when the queue sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class ManualClock:
    """``now`` moves only by ``advance``; ``asleep_until`` is when the queue asked to be woken (None
    while it works), so a test reads the retry schedule the queue chose."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self.asleep_until: float | None = None
        self._tick = asyncio.Event()

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self._tick.set()

    async def sleep_until(self, moment: float, wake: asyncio.Event) -> None:
        self.asleep_until = moment
        try:
            while self.t < moment and not wake.is_set():
                self._tick.clear()
                ticked = asyncio.ensure_future(self._tick.wait())
                woken = asyncio.ensure_future(wake.wait())
                _, pending = await asyncio.wait({ticked, woken}, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
        finally:
            self.asleep_until = None


async def eventually(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait (generously, never a timing assertion) until ``check()`` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
