"""How late the event loop wakes up: the measure of "nothing blocks the loop".

A task sleeps for a fixed interval and records how much later than asked it woke. Any callback that holds
the loop (a parse, a disk write, a big copy) shows up as lag; ``/api/stats`` reports it.
"""

from __future__ import annotations

import asyncio
import collections

INTERVAL = 0.02  # 50 wake-ups a second: cheap, and fine enough to see a 10 ms stall
WINDOW = 1000  # recent samples kept for the percentile (the last ~20 s)


class LoopLag:
    def __init__(self, interval: float = INTERVAL, window: int = WINDOW) -> None:
        self.interval = interval
        self.max_ms = 0.0
        self.samples = 0
        self._recent: collections.deque[float] = collections.deque(maxlen=window)

    def record(self, lag_ms: float) -> None:
        self.samples += 1
        self.max_ms = max(self.max_ms, lag_ms)
        self._recent.append(lag_ms)

    def snapshot(self) -> dict[str, float | int]:
        """``max`` since start, ``p99`` and ``recent_max`` over the last samples, in milliseconds."""
        recent = sorted(self._recent)
        p99 = recent[min(len(recent) - 1, int(len(recent) * 0.99))] if recent else 0.0
        return {
            "max": round(self.max_ms, 2),
            "p99": round(p99, 2),
            "recent_max": round(recent[-1] if recent else 0.0, 2),
            "samples": self.samples,
        }

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval)
            self.record(max(0.0, (loop.time() - asked - self.interval) * 1000))
