"""The SQLite writer process, seen from the server: ``WriterProcess`` starts it and submits jobs to it.

Why a process and not a thread: every SQLite call releases the GIL and takes it back, about ten times per
message. A writer thread therefore queued for the GIL behind the event loop ten times per message, and
with 8 clients each waiting for its commit, those waits were most of the time a message took
(benchmarks/README.md). The child has its own interpreter: SQLite runs on the
second core while the loop keeps the first, and the loop exchanges one frame each way per job
(``sqlite_wire``) on a socket it already watches, so no thread ever waits for the loop.

A job is a name in ``sqlite_jobs.JOBS`` and its arguments; the process (``sqlite_worker``) commits jobs in
groups and answers each once its transaction committed.

``problem`` says why the store cannot take writes now: the process stopped, or the disk is full or cannot
be written. It is set when that happens and logged once; meanwhile a recovery task restarts a stopped
process, or sends a probe write, with a growing delay (RETRY_FIRST_SECONDS doubling up to
RETRY_MAX_SECONDS), and any write that succeeds clears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from mailtrap_lite.errors import StoreError, StoreUnavailable
from mailtrap_lite.store.sqlite_jobs import JOBS
from mailtrap_lite.store.sqlite_wire import Blob, frame, split_frames, travels_apart

BLOB_SOCKET_BUFFER = 4 * 1024 * 1024
RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
_STARTUP_SECONDS = 60
_STOPPED = "the database writer process stopped; restarting it"

log = logging.getLogger("mailtrap_lite.store")


class _Child(asyncio.Protocol):
    """One writer process: the protocol of its frame socket, its blob socket, and the jobs it owes."""

    def __init__(self, owner: WriterProcess, blob_socket: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self.owner = owner
        self.process: subprocess.Popen[bytes] | None = None
        self.transport: asyncio.Transport | None = None
        self.blob_socket = blob_socket
        self.blobs: asyncio.Queue[bytes] = asyncio.Queue()
        self.blob_sender = loop.create_task(self._send_blobs())
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.started: asyncio.Future[str | None] = loop.create_future()
        self._buffer = bytearray()

    @property
    def running(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for payload in split_frames(self._buffer):
            self._answer(pickle.loads(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.started.done():
            self.started.set_result("the database writer stopped while starting")
        failure = StoreUnavailable(_STOPPED)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(failure)
        self.pending.clear()
        self.owner._lost(self)

    def _answer(self, message: tuple[Any, ...]) -> None:
        if message[0] == "started":
            if not self.started.done():
                self.started.set_result(message[1])
            return
        job, transaction, value, error = message
        self.owner.transactions = max(self.owner.transactions, transaction)
        self.owner._answered(error)
        future = self.pending.pop(job, None)
        if future is None or future.done():  # the waiter was cancelled; the work is committed all the same
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def send(self, job: int, header: bytes, payload: bytes, blobs: list[bytes]) -> asyncio.Future[Any]:
        assert self.transport is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[job] = future
        self.transport.write(header)
        self.transport.write(payload)
        for blob in blobs:
            self.blobs.put_nowait(blob)
        return future

    async def _send_blobs(self) -> None:
        """Send large arguments in the order of their jobs' frames. It runs as its own task so that a
        cancelled caller never leaves a blob half sent (the process would wait for the rest)."""
        loop = asyncio.get_running_loop()
        while True:
            blob = await self.blobs.get()
            try:
                await loop.sock_sendall(self.blob_socket, blob)  # from a memoryview of it: no copy
            except OSError:  # the process is gone; connection_lost fails the waiting jobs
                return

    async def stop(self) -> None:
        """Let the process finish the jobs already sent and wait for it to exit (kill it if its socket
        is gone already, or after 30 s)."""
        process = self.process
        if self.running:
            assert self.transport is not None
            self.transport.write_eof()
        elif process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self.transport is not None:
            self.transport.close()
        self.blob_sender.cancel()
        self.blob_socket.close()


class WriterProcess:
    """Runs write jobs in the writer process; ``run`` returns once the job's transaction committed."""

    def __init__(self, path: Path, *, index_when_idle: bool) -> None:
        self.path = path
        self._index_when_idle = index_when_idle
        self._child: _Child | None = None
        self._next_job = 0
        self._closed = False
        self._recovery: asyncio.Task[None] | None = None
        self.problem: str | None = None  # why writes fail now; None when they can succeed
        self.transactions = 0  # committed batches, for the group-commit test

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None or child.process is None else child.process.pid

    async def start(self) -> None:
        """Start the process; raises StoreError with the reason when it cannot use the database."""
        self._child = await self._start_child()

    async def _start_child(self) -> _Child:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        blob_socket, their_blobs = socket.socketpair()
        blob_socket.setblocking(False)
        # A megabyte in one send rather than five: each refill waits for a turn of the busy loop, and the
        # writer waits for the whole blob (the kernel caps this at net.core.wmem_max, often 4 MB).
        blob_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BLOB_SOCKET_BUFFER)
        child = _Child(self, blob_socket)
        try:
            try:
                child.process = await asyncio.to_thread(self._spawn, theirs, their_blobs)
            finally:
                theirs.close()
                their_blobs.close()
            await loop.create_unix_connection(lambda: child, sock=ours)
            async with asyncio.timeout(_STARTUP_SECONDS):
                problem = await child.started
        except BaseException:
            if child.transport is None:
                ours.close()
            await child.stop()
            raise
        if problem is not None:
            await child.stop()
            raise StoreError(problem)
        return child

    def _spawn(self, theirs: socket.socket, blobs: socket.socket) -> subprocess.Popen[bytes]:
        fds = [theirs.fileno(), blobs.fileno()]
        command = [sys.executable, "-m", "mailtrap_lite.store.sqlite_worker", *map(str, fds), str(self.path)]
        if not self._index_when_idle:
            command.append("--no-index")
        # The writer must import this very mailtrap-lite (it runs its jobs), wherever the server
        # found it: a checkout on sys.path, an install, another working directory.
        here = str(Path(__file__).resolve().parents[2])
        inherited = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": here if not inherited else os.pathsep.join([here, inherited])}
        return subprocess.Popen(command, pass_fds=fds, stdin=subprocess.DEVNULL, close_fds=True, env=env)

    async def run(self, name: str, *args: object) -> Any:
        """Run the job ``name`` of ``sqlite_jobs.JOBS`` with these arguments in the next transaction;
        returns its result once committed. An unknown name (ValueError) or an argument that cannot cross
        to the process (TypeError) fails here, before anything is sent; StoreUnavailable says the store
        cannot write for now."""
        if name not in JOBS:
            raise ValueError(f"no database job is named {name!r}")
        blobs = [arg for arg in args if travels_apart(arg)]
        if blobs:
            args = tuple(Blob(len(arg)) if travels_apart(arg) else arg for arg in args)
        job = self._next_job + 1
        try:
            header, payload = frame((job, name, args))
        except Exception as error:  # pickle raises PicklingError, TypeError or AttributeError
            raise TypeError(
                f"the arguments of database job {name!r} cannot be sent to the writer process: {error}"
            ) from error
        child = self._child
        if self._closed or child is None or not child.running:
            raise StoreUnavailable(self.problem or "the database writer is not running")
        self._next_job = job
        return await child.send(job, header, payload, blobs)

    def _answered(self, error: BaseException | None) -> None:
        if isinstance(error, StoreUnavailable):
            self._set_problem(str(error))
        elif error is None:
            self._set_problem(None)

    def _lost(self, child: _Child) -> None:
        if not self._closed and child is self._child:
            self._set_problem(_STOPPED)

    def _set_problem(self, problem: str | None) -> None:
        """Record a change of health, in one log line; start recovering when writes fail."""
        if problem == self.problem:
            return
        if problem is None:
            log.warning("the database takes messages again")
        elif self.problem is None:
            log.error("the database cannot take messages (they are answered 451): %s", problem)
        else:
            log.error("the database still cannot take messages: %s", problem)
        self.problem = problem
        if problem is not None and not self._closed and (self._recovery is None or self._recovery.done()):
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        """Until writes succeed again: restart a writer process that stopped, or probe with a write."""
        delay = RETRY_FIRST_SECONDS
        while self.problem is not None and not self._closed:
            await asyncio.sleep(delay)
            delay = min(2 * delay, RETRY_MAX_SECONDS)
            try:
                child = self._child
                if child is not None and child.running:
                    await self.run("probe")  # its answer records the outcome
                    continue
                self._child = None
                if child is not None:
                    await child.stop()
                self._child = await self._start_child()
                self._set_problem(None)
            except StoreError as error:
                self._set_problem(str(error))
            except Exception as error:  # a start that timed out, no process could be spawned
                self._set_problem(f"cannot restart the database writer: {error!r}")

    async def close(self) -> None:
        """Let the process finish the jobs already sent, then wait for it to exit."""
        if self._closed:
            return
        self._closed = True
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        if self._child is not None:
            await self._child.stop()
