"""The threads that keep SQLite reads off the event loop: a pool of read-only connections.

Writes go through the writer process (``sqlite_writer``).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

R = TypeVar("R")
Work = Callable[[sqlite3.Connection], R]


class ReadPool:
    """A few read-only connections, each used by one thread at a time."""

    def __init__(self, connections: list[sqlite3.Connection]) -> None:
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        for connection in connections:
            self._idle.put(connection)
        self._connections = connections
        self._executor = ThreadPoolExecutor(len(connections), thread_name_prefix="mailtrap-sqlite-read")

    async def run(self, work: Work[R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, work)

    def _call(self, work: Work[R]) -> R:
        connection = self._idle.get()
        try:
            return work(connection)
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self._idle.put(connection)

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, True)
        for connection in self._connections:
            connection.close()
