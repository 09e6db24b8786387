"""The SQLite writer process, seen from the server: ``WriterProcess`` starts it and submits jobs to it.

Why a process and not a thread: every SQLite call releases the GIL and takes it back, about ten times per
message. A writer thread therefore queued for the GIL behind the event loop ten times per message, and
with 8 clients each waiting for its commit, those waits were most of the time a message took (~4 ms per
batch of ~5 messages, for ~0.5 ms of SQLite work). The child has its own interpreter: SQLite runs on the
second core while the loop keeps the first, and the loop exchanges one frame each way per job
(``sqlite_wire``) on a socket it already watches, so no thread ever waits for the loop.

A job is a name in ``sqlite_jobs.JOBS`` and its arguments; the process (``sqlite_worker``) commits jobs in
groups and answers each once its transaction committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from mailtrap_lite.errors import StoreError
from mailtrap_lite.store.sqlite_jobs import JOBS
from mailtrap_lite.store.sqlite_wire import Blob, frame, split_frames, travels_apart

BLOB_SOCKET_BUFFER = 4 * 1024 * 1024
_STARTUP_SECONDS = 60

log = logging.getLogger("mailtrap_lite.store")


# --- the event loop's end ----------------------------------------------------------------------------


class _Channel(asyncio.Protocol):
    def __init__(self, writer: WriterProcess) -> None:
        self._writer = writer
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for payload in split_frames(self._buffer):
            self._writer._answer(pickle.loads(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        self._writer._lost()


class WriterProcess:
    """Runs write jobs in the writer process; ``run`` returns once the job's transaction committed."""

    def __init__(self, path: Path, *, index_when_idle: bool) -> None:
        self.path = path
        self._index_when_idle = index_when_idle
        self._process: subprocess.Popen[bytes] | None = None
        self._transport: asyncio.Transport | None = None
        self._blob_socket: socket.socket | None = None
        self._blobs: asyncio.Queue[bytes] = asyncio.Queue()
        self._blob_sender: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_job = 0
        self._started: asyncio.Future[str | None] | None = None
        self._closed = False
        self.transactions = 0  # committed batches, for the group-commit test
        self.pid: int | None = None

    async def start(self) -> None:
        """Start the process; raises StoreError with the reason when it cannot use the database."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        self._blob_socket, their_blobs = socket.socketpair()
        self._blob_socket.setblocking(False)
        # A megabyte in one send rather than five: each refill waits for a turn of the busy loop, and the
        # writer waits for the whole blob (the kernel caps this at net.core.wmem_max, often 4 MB).
        self._blob_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BLOB_SOCKET_BUFFER)
        try:
            self._process = await asyncio.to_thread(self._spawn, theirs, their_blobs)
        finally:
            theirs.close()
            their_blobs.close()
        self.pid = self._process.pid
        self._blob_sender = loop.create_task(self._send_blobs(self._blob_socket))
        self._started = loop.create_future()
        transport, _ = await loop.create_unix_connection(lambda: _Channel(self), sock=ours)
        self._transport = transport
        try:
            async with asyncio.timeout(_STARTUP_SECONDS):
                problem = await self._started
        except BaseException:
            await self.close()
            raise
        if problem is not None:
            await self.close()
            raise StoreError(problem)

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

    async def _send_blobs(self, blob_socket: socket.socket) -> None:
        """Send large arguments in the order of their jobs' frames. It runs as its own task so that a
        cancelled caller never leaves a blob half sent (the process would wait for the rest)."""
        loop = asyncio.get_running_loop()
        while True:
            blob = await self._blobs.get()
            try:
                await loop.sock_sendall(blob_socket, blob)  # from a memoryview of it: no copy
            except OSError:  # the process is gone; _lost fails the waiting jobs
                return

    @property
    def running(self) -> bool:
        return not self._closed and self._transport is not None and not self._transport.is_closing()

    async def run(self, name: str, *args: object) -> Any:
        """Run the job ``name`` of ``sqlite_jobs.JOBS`` with these arguments in the next transaction;
        returns its result once committed. An unknown name (ValueError) or an argument that cannot cross
        to the process (TypeError) fails here, before anything is sent."""
        if name not in JOBS:
            raise ValueError(f"no database job is named {name!r}")
        if not self.running:
            raise StoreError("the database writer is not running")
        assert self._transport is not None
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
        self._next_job = job
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[job] = future
        self._transport.write(header)
        self._transport.write(payload)
        for blob in blobs:
            self._blobs.put_nowait(blob)
        return await future

    def _answer(self, message: tuple[Any, ...]) -> None:
        if message[0] == "started":
            if self._started is not None and not self._started.done():
                self._started.set_result(message[1])
            return
        job, transaction, value, error = message
        self.transactions = max(self.transactions, transaction)
        future = self._pending.pop(job, None)
        if future is None or future.done():  # the waiter was cancelled; the work is committed all the same
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def _lost(self) -> None:
        failure = StoreError("the database writer stopped")
        if self._started is not None and not self._started.done():
            self._started.set_result("the database writer stopped while starting")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(failure)
        self._pending.clear()
        if not self._closed:
            log.error("the SQLite writer process stopped: messages are refused with 451 until restart")

    async def close(self) -> None:
        """Let the process finish the jobs already sent, then wait for it to exit."""
        if self._closed:
            return
        self._closed = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write_eof()
        if self._process is not None:
            process = self._process
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._transport is not None:
            self._transport.close()
        if self._blob_sender is not None:
            self._blob_sender.cancel()
        if self._blob_socket is not None:
            self._blob_socket.close()
