"""What relaying costs: inbound mail with and without --relay-auto, how fast the queue forwards, and how
long one manual release takes, against a second mailtrap-lite on loopback.

    python3 benchmarks/relay_bench.py                 # 500 messages, memory store
    python3 benchmarks/relay_bench.py --db            # the same with --db (each release is a commit)

The upstream is a mailtrap-lite process of its own; the relaying server runs on a thread of this
process, beside the client (so both share one GIL: compare the two inbound rates, not their size with
run.py's). Inbound: one smtplib connection sends the messages back to back; the rate is what the client
saw, with the relay forwarding the earlier ones meanwhile. Forwarded: how long until the upstream held
them all.
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

from benchmarks.servers import Server
from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, HostPort, RelayTarget

ANY = HostPort("127.0.0.1", 0)
RAW = b"From: a@example.com\r\nTo: ann@example.com\r\nSubject: bench\r\n\r\n" + b"x" * 1000 + b"\r\n"


def started(config: Config) -> MailServer:
    server = MailServer(config)
    server.start()
    return server


def inbound_rate(server: MailServer, count: int) -> float:
    assert server.addresses is not None
    began = time.perf_counter()
    with smtplib.SMTP(server.addresses.smtp.host, server.addresses.smtp.port, timeout=60) as client:
        for _ in range(count):
            client.sendmail("a@example.com", ["ann@example.com"], RAW)
    return count / (time.perf_counter() - began)


def total(api: httpx.Client) -> int:
    found: int = api.get("/api/messages", params={"limit": 1}).json()["total"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--releases", type=int, default=50)
    parser.add_argument("--db", action="store_true")
    options = parser.parse_args()
    upstream = Server("mailtrap-lite").start()
    target = RelayTarget("127.0.0.1", upstream.smtp_port)
    base: dict[str, Any] = {"smtp": ANY, "http": ANY, "quiet": True, "max_messages": 100_000}
    results = {}
    with tempfile.TemporaryDirectory() as folder, httpx.Client(base_url=upstream.url, timeout=60) as up:
        for name, relay in (("no relay", {}), ("--relay-auto", {"relay_auto": ""})):
            db = {"db": Path(folder) / f"{len(results)}.db"} if options.db else {}
            server = started(Config(**base, **db, relay=target, relay_tls="none", **relay))
            assert server.addresses is not None
            before = total(up)
            began = time.perf_counter()
            results[name] = inbound_rate(server, options.messages)
            if relay:
                while total(up) < before + options.messages:
                    time.sleep(0.05)
                forwarded = options.messages / (time.perf_counter() - began)
                print(f"forwarded by the queue: {forwarded:.0f} msg/s (first send to last arrival)")
            else:
                print(release_times(server, options.releases))
            server.stop()
    upstream.stop()
    for name, rate in results.items():
        print(f"inbound, {name}: {rate:.0f} msg/s")


def release_times(server: MailServer, count: int) -> str:
    assert server.addresses is not None
    with httpx.Client(base_url=server.addresses.url, timeout=60) as api:
        ids = [m["id"] for m in api.get("/api/messages", params={"limit": count}).json()["messages"]]
        took = []
        for message_id in ids:
            start = time.perf_counter()
            response = api.post(f"/api/messages/{message_id}/release", json={})
            took.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
    median, worst = statistics.median(took) * 1000, max(took) * 1000
    return f"manual release over HTTP: median {median:.1f} ms, max {worst:.1f} ms ({len(took)} releases)"


if __name__ == "__main__":
    main()
