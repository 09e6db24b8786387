"""The time the relay queue schedules by: the system's, or one a test moves by hand."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """POSIX seconds."""

    async def sleep_until(self, moment: float, wake: asyncio.Event) -> None:
        """Return at ``moment`` (never, when it is infinite) or as soon as ``wake`` is set."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, moment: float, wake: asyncio.Event) -> None:
        delay = moment - time.time()
        if delay <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(None if delay == float("inf") else delay):
                await wake.wait()
