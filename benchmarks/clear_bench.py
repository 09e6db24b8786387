"""How long deleting every message holds up arriving mail, and how much disk it gives back.

    python3 benchmarks/clear_bench.py                    # 100,000 messages of ~1 KB
    python3 benchmarks/clear_bench.py --messages 20000

The store is filled, then a client adds a message every 10 ms: for 5 s alone, then while
``delete_matching(None)`` (the UI's "delete all") runs, and while the writer gives the space back
afterwards. It prints how long the delete took, the slowest add in each phase, and the database's size
before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

from mailtrap_lite.message import build_message
from mailtrap_lite.model import Envelope, Recipient, Session, StoredMessage, utcnow
from mailtrap_lite.store.sqlite import SQLiteStore

BODY = "The quick brown fox jumps over the lazy dog; the verification code follows. " * 12  # ~1 KB


def message(number: int, session: Session) -> StoredMessage:
    raw = (
        f"From: App <app@example.com>\r\nTo: user{number % 500}@example.com\r\nSubject: Message {number}\r\n"
        f"Message-ID: <{number}@example.com>\r\n\r\n{BODY}{number:08d}\r\n"
    ).encode()
    envelope = Envelope("app@example.com", recipients=(Recipient("ann@example.com", 250, "2.1.5 Ok"),))
    return build_message(f"m{number}", raw, envelope, session.id, False)


async def slowest_add(store: SQLiteStore, session: Session, first: int, until: asyncio.Future[None]) -> float:
    """Add a message every 10 ms until ``until`` is done; returns the slowest add in seconds."""
    slowest, number = 0.0, first
    while not until.done():
        stored = message(number, session)
        started = time.perf_counter()
        await store.add(stored, session)
        slowest = max(slowest, time.perf_counter() - started)
        number += 1
        await asyncio.sleep(0.01)
    return slowest


async def size(store: SQLiteStore) -> int:
    return (await store.stats()).db_size or 0


async def main(messages: int, directory: Path) -> None:
    store = SQLiteStore(directory / "clear.db")
    await store.open()
    session = Session("s1", "127.0.0.1:1", utcnow())
    for start in range(0, messages, 500):
        batch = [message(n, session) for n in range(start, min(start + 500, messages))]
        await asyncio.gather(*(store.add(stored, session) for stored in batch))
    await store.index_now()
    full = await size(store)
    loop = asyncio.get_running_loop()

    quiet: asyncio.Future[None] = loop.create_future()
    prober = asyncio.create_task(slowest_add(store, session, 20 * messages, quiet))
    await asyncio.sleep(5)
    quiet.set_result(None)
    alone = await prober

    deleting: asyncio.Future[None] = loop.create_future()
    prober = asyncio.create_task(slowest_add(store, session, messages, deleting))
    started = time.perf_counter()
    deleted = len(await store.delete_matching(None))
    took = time.perf_counter() - started
    deleting.set_result(None)
    during_delete = await prober

    shrinking: asyncio.Future[None] = loop.create_future()
    prober = asyncio.create_task(slowest_add(store, session, 10 * messages, shrinking))
    started = time.perf_counter()
    while await size(store) > full // 10 and time.perf_counter() - started < 300:
        await asyncio.sleep(0.05)
    gave_back = time.perf_counter() - started
    shrinking.set_result(None)
    during_give_back = await prober
    after = await size(store)
    await store.close()
    print(f"slowest add with nothing else to do, over 5 s: {alone * 1000:.0f} ms")
    print(f"deleted {deleted} messages in {took * 1000:.0f} ms", end="; ")
    print(f"slowest add meanwhile {during_delete * 1000:.0f} ms")
    print(f"space given back in {gave_back:.1f} s; slowest add meanwhile {during_give_back * 1000:.0f} ms")
    print(f"database files: {full} bytes full, {after} bytes after")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        asyncio.run(main(arguments.messages, Path(temporary)))
