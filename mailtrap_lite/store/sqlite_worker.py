"""The SQLite writer process: it owns the only write connection and runs the jobs of ``sqlite_jobs.JOBS``.

Started by ``sqlite_writer.WriterProcess`` as ``python -m mailtrap_lite.store.sqlite_worker``; frames
(``sqlite_wire``) arrive on one socket, large arguments on another. It runs whatever is waiting in one
transaction (each job in its own savepoint, so one failing job does not sink the others), commits, and only
then answers each job: messages arriving together share one fsync, and a caller that sees its job done
knows it is committed. Work that nobody waits for (catching up the full-text index) runs only when no job
is waiting, in small transactions of its own. It exits when its sockets close: when the server closes the
store, and when the server dies, so it never outlives it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import pickle
import select
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailtrap_lite.errors import StoreError, StoreUnavailable
from mailtrap_lite.store.sqlite_db import connect, explain
from mailtrap_lite.store.sqlite_jobs import JOBS, VACUUM_SLICE_PAGES, index_slice, vacuum_slice
from mailtrap_lite.store.sqlite_schema import migrate
from mailtrap_lite.store.sqlite_wire import Blob, frame, split_frames

MAX_BATCH = 512
# Once empty, the write-ahead log is cut back to this size: a large delete grows it to many megabytes.
WAL_KEPT_BYTES = 4 * 1024 * 1024
_INCREMENTAL = 2  # PRAGMA auto_vacuum

log = logging.getLogger("mailtrap_lite.store")


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A job whose frame and blobs have arrived; ``arguments`` may wait for its parsing thread."""

    job: int
    work: Callable[..., Any]
    arguments: Callable[[], tuple[object, ...]]
    large: bool  # it came with a blob


class _Worker:
    def __init__(
        self,
        channel: socket.socket,
        blobs: socket.socket,
        db: sqlite3.Connection,
        index: bool,
    ) -> None:
        self._channel = channel
        self._blob_channel = blobs
        self._db = db
        self._index = index  # catch up the full-text index when idle
        self._given_back = 0  # pages freed since the last checkpoint
        self._buffer = bytearray()
        self._frames: list[bytes] = []
        self._admitted: list[_Admitted] = []
        self._transactions = 0
        self._parser: ThreadPoolExecutor | None = None
        self._idle_failure: str | None = None

    def serve(self) -> None:
        idle_work_left = True
        while True:
            if not self._receive(wait=not idle_work_left):
                return
            self._admit()
            if not self._admitted:
                idle_work_left = self._run_idle()
                continue
            answers = self._commit()
            self._channel.sendall(b"".join(part for answer in answers for part in answer))
            idle_work_left = True  # the batch may have made some

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
            self._frames += split_frames(self._buffer)
            wait = wait and not self._frames  # then take only what is already there

    def _admit(self) -> None:
        """Unpickle the frames received and read their blobs. A large message is parsed on a thread from
        now on, while the writer commits what came before it: parsing holds the GIL, SQLite's writing
        does not, so the two overlap (small messages are parsed in turn: a thread would cost more)."""
        frames, self._frames = self._frames, []
        for payload in frames:
            job, name, args = pickle.loads(payload)
            work, prepare = JOBS[name].work, JOBS[name].prepare
            large = any(isinstance(arg, Blob) for arg in args)
            args = tuple(self._read_blob(arg.size) if isinstance(arg, Blob) else arg for arg in args)
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
        db = self._db
        # Background work is derived from committed data and redone if lost, so its commits skip the
        # fsync; the next acknowledged commit syncs the log, these pages included.
        db.execute("PRAGMA synchronous = NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            more = self._index and index_slice(db)
            if not more:
                freed = vacuum_slice(db)
                more, self._given_back = freed == VACUUM_SLICE_PAGES, self._given_back + freed
            db.execute("COMMIT")
            self._idle_failure = None
            if not more and self._given_back >= VACUUM_SLICE_PAGES:
                # The file gets shorter only at a checkpoint, and a log of a few pages calls for none
                # (pages freed by index merges alone are not worth one).
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._given_back = 0
            return more
        except sqlite3.Error as error:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            if str(error) != self._idle_failure:  # once, not after every write while the disk is full
                log.warning("background database work failed (retried after the next write): %s", error)
                self._idle_failure = str(error)
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
                    outcomes.append((None, _unavailable(error) or error))
                db.execute("RELEASE job")
            db.execute("COMMIT")
            self._transactions += 1
        except sqlite3.Error as error:
            # Nothing of this batch is durable (disk full, I/O error): every job fails.
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            failure = _unavailable(error) or StoreError(f"database write failed: {error}")
            outcomes = [(None, failure)] * len(batch)
        return [self._reply(item.job, *outcome) for item, outcome in zip(batch, outcomes, strict=True)]

    def _reply(self, job: int, value: object, problem: BaseException | None) -> tuple[bytes, bytes]:
        try:
            return frame((job, self._transactions, value, problem))
        except Exception as error:  # an answer that cannot be pickled still answers
            failure = StoreError(f"database job answered {type(error).__name__}: {error}")
            return frame((job, self._transactions, None, failure))


def _unavailable(error: BaseException) -> StoreUnavailable | None:
    """The failure as StoreUnavailable when the disk, not the job, is at fault: it is full or cannot be
    written. The server then reports the store unwritable until a write succeeds again."""
    if isinstance(error, sqlite3.Error) and error.sqlite_errorcode & 0xFF in (
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
    ):
        return StoreUnavailable(f"cannot write the database: {error}")
    return None


def _open_for_writing(path: Path) -> sqlite3.Connection:
    writer = connect(path)
    try:
        # Migrating first checks whose file this is: a refused file is left exactly as it was.
        migrate(writer, path)
        if writer.execute("PRAGMA auto_vacuum").fetchone()[0] != _INCREMENTAL:
            # Lets deleted mail give its space back, a slice at a time; the file is rebuilt once for it.
            writer.execute(f"PRAGMA auto_vacuum = {_INCREMENTAL}")
            writer.execute("VACUUM")
        mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"cannot use WAL mode on {path} (got {mode!r})")
        writer.execute("PRAGMA synchronous = FULL")
        writer.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
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
        channel.sendall(b"".join(frame(("started", str(error)))))
        return 2
    channel.sendall(b"".join(frame(("started", None))))
    try:
        _Worker(channel, blobs, db, index="--no-index" not in argv).serve()
    except (BrokenPipeError, ConnectionResetError):  # the server is gone: what was committed stays
        pass
    finally:
        db.close()
        channel.close()
        blobs.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
