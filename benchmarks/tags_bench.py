"""Tags among many messages: is a ``tag:`` listing as fast as listing everything, and what do counting,
renaming and bulk tagging cost?

    python3 benchmarks/tags_bench.py                     # 100,000 messages, SQLite and memory
    python3 benchmarks/tags_bench.py --messages 20000 --stores memory

The messages are those of store_bench.py; one in 1,000 is tagged ``rare``, one in 10 ``common``, and
every one a tag of 50. The table shows the median and the 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

from benchmarks.store_bench import build, fill, timed
from mailtrap_lite.model import Session, StoredMessage
from mailtrap_lite.search import parse_query
from mailtrap_lite.store import MemoryStore, Store
from mailtrap_lite.store.sqlite import SQLiteStore


def tagged(messages: list[tuple[StoredMessage, Session]]) -> list[tuple[StoredMessage, Session]]:
    out = []
    for n, (stored, session) in enumerate(messages):
        tags = [f"group-{n % 50}"]
        if n % 10 == 0:
            tags.append("common")
        if n % 1000 == 0:
            tags.append("rare")
        summary = dataclasses.replace(stored.summary, tags=tuple(tags))
        out.append((dataclasses.replace(stored, summary=summary), session))
    return out


async def bench(
    store: Store, messages: list[tuple[StoredMessage, Session]], repeat: int
) -> list[tuple[str, str, str]]:
    await store.open()
    try:
        await fill(store, messages)
        rows: list[tuple[str, str, str]] = []
        operations = [
            ("first page (50), no query", lambda i: store.list_messages(limit=50)),
            ("tag:rare (0.1%), first page", lambda i: store.list_messages(parse_query("tag:rare"))),
            ("tag:common (10%), first page", lambda i: store.list_messages(parse_query("tag:common"))),
            ("tag:group-7 (2%), first page", lambda i: store.list_messages(parse_query("tag:group-7"))),
            ("is:tagged (100%), first page", lambda i: store.list_messages(parse_query("is:tagged"))),
            ("tag counts, all", lambda i: store.tag_counts()),
            ("tag counts, tag:rare", lambda i: store.tag_counts(parse_query("tag:rare"))),
        ]
        for name, operation in operations:
            median, p95 = await timed(repeat, operation)
            rows.append((name, f"{median:.2f}", f"{p95:.2f}"))
        for name, query, add, remove in (
            ("rename rare (100 messages)", "tag:rare", ("renamed",), ("rare",)),
            ("add a tag to tag:common (10,000)", "tag:common", ("bulk",), ()),
            ("delete the tag bulk (10,000)", "tag:bulk", (), ("bulk",)),
        ):
            started = time.perf_counter()
            changed = await store.retag(parse_query(query), add=add, remove=remove)
            rows.append(
                (f"{name}: {len(changed)} changed", f"{(time.perf_counter() - started) * 1000:.0f}", "")
            )
        return rows
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,memory")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261126)
    options = parser.parse_args()
    messages = tagged(build(options.messages, options.seed)[0])
    with tempfile.TemporaryDirectory() as scratch:
        for kind in options.stores.split(","):
            store: Store = SQLiteStore(Path(scratch) / "tags.db") if kind == "sqlite" else MemoryStore()
            rows = asyncio.run(bench(store, messages, options.repeat))
            print(f"\n{kind}, {len(messages):,} messages: median ms, p95 ms")
            for name, median, p95 in rows:
                print(f"  {name:45} {median:>10} {p95:>10}")


if __name__ == "__main__":
    main()
