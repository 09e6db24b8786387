"""The frames that cross between the server and the SQLite writer process.

A frame is a 4-byte big-endian length and a pickle. The server sends ``(job, name, arguments)``: a job
number, the name of a job in ``sqlite_jobs.JOBS`` and its arguments; the writer answers
``(job, transactions, value, error)`` once the job's transaction committed, and ``("started", problem)``
once, when it has opened the database (``problem`` is None) or could not.

A large ``bytes`` argument (a message of a megabyte) goes apart, on a second socket, straight from the
server's copy of it: in a frame it was pickled, then copied again into the transport's buffer, and
appending 10 MB to that buffer held the event loop (benchmarks/README.md). ``Blob`` stands in the
frame for it.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import TypeGuard

BLOB_BYTES = 256 * 1024  # a bytes argument at least this large travels on the blob socket
_LENGTH = struct.Struct("!I")


def frame(value: object) -> tuple[bytes, bytes]:
    """The header and payload of a frame; raises what pickle raises for a value it cannot pickle."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)), payload


def split_frames(buffer: bytearray) -> list[bytes]:
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


@dataclass(frozen=True, slots=True)
class Blob:
    """Stands in a frame for a bytes argument that follows on the blob socket."""

    size: int


def travels_apart(arg: object) -> TypeGuard[bytes]:
    return isinstance(arg, bytes) and len(arg) >= BLOB_BYTES
