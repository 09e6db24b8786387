"""The SQLite writer: a child process that owns the only write connection, and its end in the event loop.

Why a process and not a thread: every SQLite call releases the GIL and takes it back, about ten times per
message. A writer thread therefore queued for the GIL behind the event loop ten times per message, and
with 8 clients each waiting for its commit, those waits were most of the time a message took (~4 ms per
batch of ~5 messages, for ~0.5 ms of SQLite work). The child has its own interpreter: SQLite runs on the
second core while the loop keeps the first, and the loop exchanges one frame each way per job on a
socket it already watches, so no thread ever waits for the loop.

Jobs are a module-level function of the connection and its picklable arguments; the child runs whatever
is waiting in one transaction (each job in its own savepoint, so one failing job does not sink the
others), commits, and only then answers each job. Messages arriving together therefore share one fsync,
and a caller that sees its job done knows it is committed. Work that nobody waits for (catching up the
full-text index) runs only when no job is waiting, in small transactions of its own.

Frames are a 4-byte big-endian length and a pickle. A large ``bytes`` argument (a message of a megabyte)
goes apart, on a second socket, straight from the loop's copy of it: in a frame it was pickled, then
copied again into the transport's buffer, and appending 10 MB to that buffer held the loop for ~20 ms.
The child exits when its sockets close: when the server closes the store, and when the server dies, so it
never outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import pickle
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from mailtrap_lite.errors import StoreError

R = TypeVar("R")
Work = Callable[..., R]
Prepare = Callable[..., tuple[object, ...]]

MAX_BATCH = 512
BLOB_BYTES = 256 * 1024  # a bytes argument at least this large travels on the blob socket
BLOB_SOCKET_BUFFER = 4 * 1024 * 1024
_LENGTH = struct.Struct("!I")
_STARTUP_SECONDS = 60

log = logging.getLogger("mailtrap_lite.store")


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 5000")
    return connection


def explain(path: Path, error: sqlite3.Error) -> str:
    text = str(error)
    if "not a database" in text:
        return f"{path} is not a usable SQLite database ({text}: corrupt, or another kind of file)"
    if "malformed" in text:
        return f"the database {path} is corrupt ({text})"
    if "unable to open" in text:
        return f"cannot open the database {path}: {text} (is its directory writable?)"
    if "readonly" in text:
        return f"cannot write the database {path}: it is read-only"
    if "locked" in text:
        return f"the database {path} is locked: is another mailtrap-lite using it?"
    return f"cannot open the database {path}: {text}"


def _frame(value: object) -> tuple[bytes, bytes]:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)), payload


@dataclass(frozen=True, slots=True)
class _Blob:
    """Stands in a frame for a bytes argument that follows on the blob socket."""

    size: int


def _travels_apart(arg: object) -> TypeGuard[bytes]:
    return isinstance(arg, bytes) and len(arg) >= BLOB_BYTES


def _split_frames(buffer: bytearray) -> list[bytes]:
    """Remove every complete frame from the front of ``buffer`` and return their payloads."""
    frames, start = [], 0
    while len(buffer) - start >= _LENGTH.size:
        (size,) = _LENGTH.unpack_from(buffer, start)
        end = start + _LENGTH.size + size
        if len(buffer) < end:
            break
        frames.append(bytes(buffer[start + _LENGTH.size : end]))
        start = end
    del buffer[:start]
    return frames


# --- the event loop's end ----------------------------------------------------------------------------


class _Channel(asyncio.Protocol):
    def __init__(self, writer: WriterProcess) -> None:
        self._writer = writer
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for payload in _split_frames(self._buffer):
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
        command = [sys.executable, "-m", __name__, *map(str, fds), str(self.path)]
        if not self._index_when_idle:
            command.append("--no-index")
        # The writer must import this very mailtrap-lite (jobs name its functions), wherever the server
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

    async def run(self, work: Work[R], *args: object, prepare: Prepare | None = None) -> R:
        """Run ``work(connection, *args)`` in the next transaction; returns its result once committed.

        With ``prepare``, the job runs ``work(connection, *prepare(*args))``: the part that needs no
        database (parsing), which the process may start before the job's turn."""
        if not self.running:
            raise StoreError("the database writer is not running")
        assert self._transport is not None
        self._next_job += 1
        job = self._next_job
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending[job] = future
        blobs = [arg for arg in args if _travels_apart(arg)]
        if blobs:
            args = tuple(_Blob(len(arg)) if _travels_apart(arg) else arg for arg in args)
        header, payload = _frame((job, work, args, prepare))
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


# --- the writer process --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A job whose frame and blobs have arrived; ``arguments`` may wait for its parsing thread."""

    job: int
    work: Work[Any]
    arguments: Callable[[], tuple[object, ...]]
    large: bool  # it came with a blob


class _Worker:
    def __init__(
        self, channel: socket.socket, blobs: socket.socket, db: sqlite3.Connection, idle: Work[bool] | None
    ) -> None:
        self._channel = channel
        self._blob_channel = blobs
        self._db = db
        self._idle = idle
        self._buffer = bytearray()
        self._frames: list[bytes] = []
        self._admitted: list[_Admitted] = []
        self._transactions = 0
        self._parser: ThreadPoolExecutor | None = None

    def serve(self) -> None:
        idle_work_left = self._idle is not None
        while True:
            if not self._receive(wait=not idle_work_left):
                return
            self._admit()
            if not self._admitted:
                idle_work_left = self._run_idle()
                continue
            answers = self._commit()
            self._channel.sendall(b"".join(part for answer in answers for part in answer))
            idle_work_left = self._idle is not None  # the batch may have made some

    def _receive(self, *, wait: bool) -> bool:
        """Read what has arrived (waiting for a whole frame when ``wait``); False at end of input."""
        while True:
            ready, _, _ = select.select([self._channel], [], [], None if wait else 0)
            if not ready:
                return True
            data = self._channel.recv(1 << 20)
            if not data:
                return bool(self._frames)  # finish the jobs received before the end
            self._buffer += data
            self._frames += _split_frames(self._buffer)
            wait = wait and not self._frames  # then take only what is already there

    def _admit(self) -> None:
        """Unpickle the frames received and read their blobs. A large message is parsed on a thread from
        now on, while the writer commits what came before it: parsing holds the GIL, SQLite's writing
        does not, so the two overlap (small messages are parsed in turn: a thread would cost more)."""
        frames, self._frames = self._frames, []
        for frame in frames:
            job, work, args, prepare = pickle.loads(frame)
            large = any(isinstance(arg, _Blob) for arg in args)
            args = tuple(self._read_blob(arg.size) if isinstance(arg, _Blob) else arg for arg in args)
            arguments: Callable[[], tuple[object, ...]]
            if prepare is None:
                arguments = functools.partial(tuple, args)
            elif large:
                if self._parser is None:
                    self._parser = ThreadPoolExecutor(1, thread_name_prefix="mailtrap-parse")
                arguments = self._parser.submit(prepare, *args).result
            else:
                arguments = functools.partial(prepare, *args)
            self._admitted.append(_Admitted(job, work, arguments, large))

    def _read_blob(self, size: int) -> bytes:
        blob = bytearray(size)
        view, got = memoryview(blob), 0
        while got < size:
            received = self._blob_channel.recv_into(view[got:])
            if not received:
                raise ConnectionResetError("the server closed the blob socket")
            got += received
        return bytes(blob)

    def _run_idle(self) -> bool:
        assert self._idle is not None
        db = self._db
        # Background work is derived from committed data and redone if lost, so its commits skip the
        # fsync; the next acknowledged commit syncs the log, these pages included.
        db.execute("PRAGMA synchronous = NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            more = self._idle(db)
            db.execute("COMMIT")
            return more
        except sqlite3.Error as error:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            log.warning("background database work failed (retried after the next write): %s", error)
            return False
        finally:
            db.execute("PRAGMA synchronous = FULL")

    def _commit(self) -> list[tuple[bytes, bytes]]:
        """Run the jobs admitted (up to MAX_BATCH) in one transaction; returns their answers."""
        db = self._db
        batch, self._admitted = self._admitted[:MAX_BATCH], self._admitted[MAX_BATCH:]
        outcomes: list[tuple[object, BaseException | None]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for item in batch:
                if item.large:  # let the next large message start parsing while this one is written
                    self._receive(wait=False)
                    self._admit()
                db.execute("SAVEPOINT job")
                try:
                    outcomes.append((item.work(db, *item.arguments()), None))
                except Exception as error:
                    db.execute("ROLLBACK TO job")
                    outcomes.append((None, error))
                db.execute("RELEASE job")
            db.execute("COMMIT")
            self._transactions += 1
        except sqlite3.Error as error:
            # Nothing of this batch is durable (disk full, I/O error): every job fails.
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            failure = StoreError(f"database write failed: {error}")
            outcomes = [(None, failure)] * len(batch)
        return [self._reply(item.job, *outcome) for item, outcome in zip(batch, outcomes, strict=True)]

    def _reply(self, job: int, value: object, problem: BaseException | None) -> tuple[bytes, bytes]:
        try:
            return _frame((job, self._transactions, value, problem))
        except Exception as error:  # an answer that cannot be pickled still answers
            failure = StoreError(f"database job answered {type(error).__name__}: {error}")
            return _frame((job, self._transactions, None, failure))


def _open_for_writing(path: Path) -> sqlite3.Connection:
    from mailtrap_lite.store.sqlite_schema import migrate

    writer = connect(path)
    try:
        # Migrating first checks whose file this is: a refused file is left exactly as it was.
        migrate(writer, path)
        mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"cannot use WAL mode on {path} (got {mode!r})")
        writer.execute("PRAGMA synchronous = FULL")
        # Prove now that we can write, rather than at the first message.
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE counters SET one = 1")
        writer.execute("COMMIT")
    except sqlite3.Error as error:
        writer.close()
        raise StoreError(explain(path, error)) from error
    except BaseException:
        writer.close()
        raise
    return writer


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole process group; the server decides when the writer stops (by closing).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # While a large message is parsed on a thread, the writer takes the GIL back after each SQLite call:
    # make that wait at most 1 ms, not the default 5.
    sys.setswitchinterval(0.001)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    channel, blobs = socket.socket(fileno=int(argv[0])), socket.socket(fileno=int(argv[1]))
    path = Path(argv[2])
    try:
        db = _open_for_writing(path)
    except StoreError as error:
        channel.sendall(b"".join(_frame(("started", str(error)))))
        return 2
    from mailtrap_lite.store.sqlite import index_slice

    channel.sendall(b"".join(_frame(("started", None))))
    try:
        _Worker(channel, blobs, db, None if "--no-index" in argv else index_slice).serve()
    except (BrokenPipeError, ConnectionResetError):  # the server is gone: what was committed stays
        pass
    finally:
        db.close()
        channel.close()
        blobs.close()
    return 0


if __name__ == "__main__":
    # Run as the importable module, not as __main__: frames name its classes (_Blob) by that module.
    from mailtrap_lite.store.sqlite_writer import main as run_writer

    sys.exit(run_writer(sys.argv[1:]))
