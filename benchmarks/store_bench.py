"""Fill each store with many messages, then time what a user waits for.

    python3 benchmarks/store_bench.py                    # 100,000 messages, SQLite and memory
    python3 benchmarks/store_bench.py --messages 20000 --stores sqlite --db /tmp/bench.db

Messages are built the way ingest builds them (real MIME parsing), from a fixed seed: 5,000 senders,
bodies of 80-200 words from 10,000 made of a few syllables (so their trigrams are shared: a worst case
for the trigram index) and one 8-character verification code each, a session (with its transcript) per
10 messages. Every 100th message is in the mailbox ``rare`` (1%), the others in ``box0``-``box9`` (about
10% each). Each operation runs ``--repeat``
times with varying arguments; the table shows the median and the 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

from mailtrap_lite import message as mime
from mailtrap_lite.message import build_message
from mailtrap_lite.model import Envelope, Prefix, Recipient, Session, StoredMessage, TranscriptLine, utcnow
from mailtrap_lite.search import parse_query
from mailtrap_lite.store import MemoryStore, Retention, Store
from mailtrap_lite.store.sqlite import SQLiteStore

SENDERS = 5000
VOCABULARY = 10_000
PER_SESSION = 10
RARE_EVERY = 100  # every this many messages, one in the mailbox "rare"
CONCURRENCY = 200  # adds in flight at once while filling, as from many SMTP clients


def vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "bri", "sto", "fel"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def build(count: int, seed: int) -> tuple[list[tuple[StoredMessage, Session]], list[str], list[str]]:
    rng = random.Random(seed)
    words = vocabulary(rng)
    built: list[tuple[StoredMessage, Session]] = []
    codes: list[str] = []
    session = Session(id="", peer="", started_at=utcnow())
    for n in range(count):
        if n % PER_SESSION == 0:
            lines = [
                TranscriptLine(0, "S", "220 mailtrap-lite ESMTP"),
                TranscriptLine(1, "C", "EHLO app.example"),
            ]
            session = Session(id=f"s{n:07d}", peer="127.0.0.1:40000", started_at=utcnow(), helo="app.example")
        sender = f"user{rng.randrange(SENDERS)}@shop.example"
        code = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(8))
        codes.append(code)
        body = " ".join(rng.choice(words) for _ in range(rng.randint(80, 200)))
        body += f"\r\n\r\nYour verification code is {code}."
        subject = f"Order {rng.randrange(100_000)} {rng.choice(words)} confirmation"
        raw = (
            f"From: Shop <{sender}>\r\nTo: customer{n}@example.com\r\nSubject: {subject}\r\n"
            f"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{n}@shop.example>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        ).encode()
        envelope = Envelope(sender, recipients=(Recipient(f"customer{n}@example.com", 250, "2.1.5 Ok"),))
        message_id = f"m{n:09d}"
        lines += [
            TranscriptLine(2, "C", f"MAIL FROM:<{sender}>"),
            TranscriptLine(3, "S", "250 Ok"),
            TranscriptLine(4, "C", f"<DATA {len(raw)} bytes>"),
        ]
        # What the protocol's session log hands over with each message: the transcript so far.
        session = dataclasses.replace(session, transcript=Prefix(lines, len(lines)))
        mailbox = "rare" if n % RARE_EVERY == 0 else f"box{n % 10}"
        stored = build_message(message_id, raw, envelope, session.id, False, mailbox, f"rcpt:{mailbox}@*")
        built.append((stored, session))
    return built, words, codes


async def fill(store: Store, messages: list[tuple[StoredMessage, Session]]) -> float:
    started = time.perf_counter()
    for start in range(0, len(messages), CONCURRENCY):
        await asyncio.gather(*(store.add(m, s) for m, s in messages[start : start + CONCURRENCY]))
    return time.perf_counter() - started


async def timed(repeat: int, operation: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    await operation(0)  # warm-up
    samples = []
    for i in range(1, repeat + 1):
        started = time.perf_counter()
        await operation(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


async def bench(
    store: Store,
    messages: list[tuple[StoredMessage, Session]],
    words: list[str],
    codes: list[str],
    repeat: int,
) -> list[tuple[str, str, str]]:
    rng = random.Random(7)
    await store.open()
    try:
        seconds = await fill(store, messages)
        rows: list[tuple[str, str, str]] = [
            ("fill", f"{len(messages) / seconds:,.0f} msg/s", f"{seconds:.1f} s")
        ]
        ids = [m.summary.id for m, _ in messages]
        senders = [f"user{rng.randrange(SENDERS)}@shop" for _ in range(repeat + 1)]
        rare = [rng.choice(words) for _ in range(repeat + 1)]

        async def open_message(i: int) -> object:
            message_id = rng.choice(ids)
            summary = await store.get_summary(message_id)
            raw = await store.get_raw(message_id)
            assert summary is not None and raw is not None
            return mime.parse_full(summary, raw)

        async def session(i: int) -> object:
            found = await store.get_session(messages[rng.randrange(len(messages))][1].id)
            assert found is not None
            return found

        extra = messages[-1][1]
        counter = iter(range(10**9))

        async def add_one(i: int) -> None:
            template = messages[i % len(messages)][0]
            summary = dataclasses.replace(template.summary, id=f"x{next(counter):09d}")
            await store.add(dataclasses.replace(template, summary=summary), extra)

        operations: list[tuple[str, Callable[[int], Awaitable[object]]]] = [
            ("first page (50)", lambda i: store.list_messages(limit=50)),
            ("page 100 (offset 5000)", lambda i: store.list_messages(limit=50, offset=5000)),
            ("open message (+ parse)", open_message),
            ("session with transcript", session),
            ("field: from:userN@shop", lambda i: store.list_messages(parse_query(f"from:{senders[i]}"))),
            ("field, 2 chars: from:u9", lambda i: store.list_messages(parse_query("from:u9"))),
            ("free text, one message's code", lambda i: store.list_messages(parse_query(rng.choice(codes)))),
            ("free text, a dictionary word", lambda i: store.list_messages(parse_query(rare[i]))),
            ("free text, in every message", lambda i: store.list_messages(parse_query("confirmation"))),
            (
                "is:unread after:1d (no text)",
                lambda i: store.list_messages(parse_query("is:unread after:1d")),
            ),
            ("stats", lambda i: store.stats()),
            ("mailbox, 10% of mail: first page", lambda i: store.list_messages(parse_query("mailbox:box3"))),
            (
                "mailbox, 10%: page 20 (offset 1000)",
                lambda i: store.list_messages(parse_query("mailbox:box3"), offset=1000),
            ),
            ("mailbox, 1% of mail: first page", lambda i: store.list_messages(parse_query("mailbox:rare"))),
            (
                "mailbox:box3 from:userN@shop",
                lambda i: store.list_messages(parse_query(f"mailbox:box3 from:{senders[i]}")),
            ),
            ("mailbox stats (11 mailboxes)", lambda i: store.mailbox_stats()),
            ("sessions of the 1% mailbox", lambda i: store.list_sessions(mailboxes=frozenset({"rare"}))),
            ("add one (alone: one commit)", add_one),
        ]
        for name, operation in operations:
            median, p95 = await timed(repeat, operation)
            rows.append((name, f"{median:.2f}", f"{p95:.2f}"))
        started = time.perf_counter()
        marked = await store.mark_matching(parse_query("mailbox:box3"), read=True)
        rows.append(
            (
                f"mark {len(marked)} read (one mailbox, ms)",
                f"{(time.perf_counter() - started) * 1000:.0f}",
                "",
            )
        )
        # Each mailbox keeps 1,000 fewer than the largest holds: at 100,000 messages every mailbox but
        # "rare" is pruned.
        largest = max(s.total for s in await store.mailbox_stats())
        retention = Retention(max_messages=max(largest - 1000, 1), max_age_seconds=None)
        started = time.perf_counter()
        pruned = await store.prune(retention)
        rows.append(
            (
                f"prune the {len(pruned)} oldest, per mailbox (ms)",
                f"{(time.perf_counter() - started) * 1000:.0f}",
                "",
            )
        )
        stats = await store.stats()
        if stats.db_size is not None:
            rows.append(("database size", f"{stats.db_size / 2**20:,.0f} MiB", ""))
        started = time.perf_counter()
        cleared = await store.delete_matching(None)
        rows.append((f"delete all {len(cleared)} (ms)", f"{(time.perf_counter() - started) * 1000:.0f}", ""))
        return rows
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,memory")
    parser.add_argument(
        "--db", type=Path, help="SQLite file (default: a temporary directory); must not exist"
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261126)
    options = parser.parse_args()

    started = time.perf_counter()
    messages, words, codes = build(options.messages, options.seed)
    print(f"built {len(messages):,} messages in {time.perf_counter() - started:.0f} s", flush=True)
    results: dict[str, list[tuple[str, str, str]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for kind in options.stores.split(","):
            if kind == "sqlite":
                store: Store = SQLiteStore(options.db or Path(scratch) / "bench.db")
            else:
                store = MemoryStore()
            results[kind] = asyncio.run(bench(store, messages, words, codes, options.repeat))
            print(f"{kind}: done", flush=True)

    kinds = list(results)
    names = list(dict.fromkeys(name for kind in kinds for name, _, _ in results[kind]))
    cells = {kind: {name: (median, p95) for name, median, p95 in results[kind]} for kind in kinds}
    header = f"{'operation at ' + format(len(messages), ',') + ' messages':<34}"
    header += "".join(f"{kind + ' median':>18}{'p95 (ms)':>12}" for kind in kinds)
    print("\n" + header)
    print("-" * len(header))
    for name in names:
        line = f"{name:<34}"
        for kind in kinds:
            median, p95 = cells[kind].get(name, ("", ""))
            line += f"{median:>18}{p95:>12}"
        print(line)


if __name__ == "__main__":
    main()
