"""PostgreSQL beside SQLite, as a user runs them: ingest over SMTP, and the 250-to-websocket latency on
the same instance and on another instance sharing the database.

    python3 benchmarks/pg_bench.py --pg postgresql://me@127.0.0.1/bench

The database given is emptied first and used by every instance (mailtrap-lite processes, as the CLI
starts them). Ingest sends ``--small`` 1 KB messages over 8 connections, and ``--large`` 10 MB messages
over 2; the latency runs send ``--latency`` 1 KB messages one at a time and wait for each on a websocket.
Prints a Markdown table (medians of ``--runs`` runs; benchmarks/README.md keeps the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from measure import pct
from servers import Server


async def ingest(server: Server, http: httpx.AsyncClient, size: str, count: int, conns: int) -> float:
    (await http.delete(f"{server.url}/api/messages")).raise_for_status()
    template = loadgen.build_template(size)
    result = await loadgen.blast("127.0.0.1", server.smtp_port, template, count, conns)
    return result.per_second


async def handover(sender: Server, watcher: Server, http: httpx.AsyncClient, count: int) -> list[float]:
    """ms from the client reading 250 from ``sender`` until ``watcher``'s websocket announces it."""
    template = loadgen.build_template("1KB")
    connection = await loadgen.Connection.open("127.0.0.1", sender.smtp_port)
    samples: list[float] = []
    async with websockets.connect(f"ws://127.0.0.1:{watcher.http_port}/api/ws") as channel:
        for index in range(count):
            subject = f"hand{index:06d}x"
            await connection.send(template.head(index, "app@bench.example", subject), template.body)
            acked = time.perf_counter()
            while True:
                frame = json.loads(await asyncio.wait_for(channel.recv(), 10))
                if frame.get("type") == "message.new" and frame["data"].get("subject") == subject:
                    break
            samples.append((time.perf_counter() - acked) * 1000)
    await connection.close()
    (await http.delete(f"{sender.url}/api/messages")).raise_for_status()
    return samples


async def main(options: argparse.Namespace) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=120) as http:
        for store in ("sqlite", "postgresql"):
            url = options.pg if store == "postgresql" else None
            with Server("mailtrap-lite", db=True, db_url=url) as first:
                row: dict[str, Any] = {}
                for label, size, count, conns in (
                    ("1 KB x8 (msg/s)", "1KB", options.small, 8),
                    ("10 MB x2 (msg/s)", "10MB", options.large, 2),
                ):
                    runs = [await ingest(first, http, size, count, conns) for _ in range(options.runs)]
                    row[label] = f"{statistics.median(runs):,.1f}"
                same = await handover(first, first, http, options.latency)
                row["250 -> websocket, same instance (p50 / p99 ms)"] = (
                    f"{pct(same, 0.5):.2f} / {pct(same, 0.99):.2f}"
                )
                if url is not None:
                    with Server("mailtrap-lite", db_url=url) as second:
                        other = await handover(first, second, http, options.latency)
                    row["250 -> websocket, other instance (p50 / p99 ms)"] = (
                        f"{pct(other, 0.5):.2f} / {pct(other, 0.99):.2f}"
                    )
                results[store] = row
            print(f"{store}: done", file=sys.stderr)
    return results


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", required=True, help="PostgreSQL URL of a database this may empty")
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=12)
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    results = asyncio.run(main(options))
    names = list(dict.fromkeys(name for row in results.values() for name in row))
    print("| measure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for name in names:
        print(f"| {name} | " + " | ".join(row.get(name, "n/a") for row in results.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
