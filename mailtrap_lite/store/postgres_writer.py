"""Group commit for the PostgreSQL store: every write waits in one queue, and one connection commits
whatever has queued up in one transaction, pipelined, then answers each caller.

Under concurrency this turns N messages into one commit (one WAL flush) instead of N; alone, a message
costs one transaction as before. A caller hears back only after COMMIT returned, so the ``250`` that waits
on it follows the commit. When the connection is lost, every write of the failed batch raises
StoreUnavailable (answered ``451``; none of them was committed), and the next batch connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import AsyncConnection

from mailtrap_lite.errors import StoreError, StoreUnavailable
from mailtrap_lite.store.postgres_db import connect, unavailable

log = logging.getLogger("mailtrap_lite")

Work = Callable[[AsyncConnection[Any]], Awaitable[Any]]
RECONNECT_INTERVAL = 1.0  # seconds between attempts while the database is away


class GroupWriter:
    def __init__(self, info: str, where: str) -> None:
        self._info = info
        self._where = where
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._connection: AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_attempt = 0.0
        self.problem: str | None = None  # why writes fail now, or None
        self._probe: asyncio.Task[None] | None = None

    async def start(self, connection: AsyncConnection[Any]) -> None:
        self._connection = connection
        self._task = asyncio.create_task(self._serve())

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, future in self._queue:
            if not future.done():
                future.set_exception(StoreError("the database is closed"))
        self._queue = []
        if self._connection is not None:
            await self._connection.close()
        self._task = self._connection = None

    async def run(self, work: Work) -> Any:
        """Run ``work(connection)`` in the next transaction; returns its result once committed."""
        if self._task is None:
            raise StoreError("the database is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        self._wake.set()
        return await future

    async def check(self) -> None:
        """While writes fail, try to connect again (at most once a RECONNECT_INTERVAL)."""
        if self.problem is not None:
            with contextlib.suppress(StoreUnavailable):
                await self._connected()

    def suspect(self) -> None:
        """Another connection to the server broke: find out, with a write of nothing in the queue's
        order, whether ours did too, so that the outage shows (and the next message connects afresh)
        before a message pays for it."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._check_alive())

    async def _check_alive(self) -> None:
        with contextlib.suppress(StoreError):
            await self.run(_nothing)

    async def _serve(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if batch:
                await self._commit(batch)

    async def _connected(self) -> AsyncConnection[Any]:
        connection = self._connection
        if connection is not None and not connection.closed and not connection.broken:
            return connection
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_attempt < RECONNECT_INTERVAL and self.problem is not None:
            raise StoreUnavailable(self.problem)
        self._last_attempt = loop.time()
        try:
            self._connection = await connect(self._info, self._where)
        except StoreUnavailable as error:
            self._set_problem(str(error))
            raise
        self._set_problem(None)
        return self._connection

    async def _commit(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        try:
            connection = await self._connected()
            results = await self._transaction(connection, batch)
        except psycopg.Error as error:
            failure = unavailable(error, self._where)
            if isinstance(failure, StoreUnavailable):
                self._set_problem(str(failure))
            elif len(batch) > 1:  # one job is at fault: the others deserve their own transactions
                for job in batch:
                    await self._commit([job])
                return
            _settle(batch, failure)
        except StoreError as error:
            _settle(batch, error)
        else:
            self._set_problem(None)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _transaction(
        self, connection: AsyncConnection[Any], batch: list[tuple[Work, asyncio.Future[Any]]]
    ) -> list[Any]:
        async with connection.transaction(), connection.pipeline():
            return [await work(connection) for work, _ in batch]

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            if problem is None:
                log.warning("the database takes messages again")
            else:
                log.warning("new messages are answered 451: %s", problem)
        self.problem = problem


def _settle(batch: list[tuple[Work, asyncio.Future[Any]]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


async def _nothing(db: AsyncConnection[Any]) -> None:
    await db.execute("SELECT 1")
