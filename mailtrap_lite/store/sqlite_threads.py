"""The threads that keep SQLite off the event loop: one writer with group commit, a pool of readers.

The writer owns the only write connection. Coroutines queue jobs (functions of a connection); the thread
takes every job waiting, runs them in one transaction (each in its own savepoint, so one failing job does
not sink the others), commits, and only then resolves each job's future on its loop. Messages arriving
together therefore share one fsync, and a caller that sees its job done knows it is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from mailtrap_lite.errors import StoreError

R = TypeVar("R")
Work = Callable[[sqlite3.Connection], R]

MAX_BATCH = 512


@dataclass(frozen=True, slots=True)
class _Job:
    work: Work[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]

    def settle(self, value: object, error: BaseException | None) -> None:
        def settle_on_loop() -> None:
            if self.future.done():  # the waiter was cancelled; the work is committed all the same
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(value)

        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for this job any more
            self.loop.call_soon_threadsafe(settle_on_loop)


class Writer:
    """Runs write jobs on one connection in its own thread, committing them in batches."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mailtrap-sqlite-writer", daemon=True)
        self._closed = False
        self.transactions = 0  # committed batches, for the statistics and the group-commit test
        self.jobs = 0

    def start(self) -> None:
        self._thread.start()

    async def run(self, work: Work[R]) -> R:
        """Run ``work`` in the next transaction; returns its result once that transaction committed."""
        if self._closed:
            raise StoreError("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._jobs.put(_Job(work, loop, future))
        return await future

    async def close(self) -> None:
        """Finish the jobs already queued, then close the connection."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        try:
            running = True
            while running:
                job = self._jobs.get()
                if job is None:
                    break
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        running = False
                        break
                    batch.append(more)
                self._commit(batch)
        finally:
            self._connection.close()

    def _commit(self, batch: list[_Job]) -> None:
        db = self._connection
        outcomes: list[tuple[object, BaseException | None]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for job in batch:
                db.execute("SAVEPOINT job")
                try:
                    outcomes.append((job.work(db), None))
                except Exception as error:
                    db.execute("ROLLBACK TO job")
                    outcomes.append((None, error))
                db.execute("RELEASE job")
            db.execute("COMMIT")
            self.transactions += 1
            self.jobs += len(batch)
        except sqlite3.Error as error:
            # Nothing of this batch is durable (disk full, I/O error): every job fails.
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            failure = StoreError(f"database write failed: {error}")
            outcomes = [(None, failure)] * len(batch)
        for job, (value, problem) in zip(batch, outcomes, strict=True):
            job.settle(value, problem)


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
