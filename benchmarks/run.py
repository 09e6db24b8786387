"""The mailtrap-lite benchmark: one command, mailtrap-lite against a bare aiosmtpd sink in the same run.

    python benchmarks/run.py [--quick] [--db] [--json FILE]

Prints Markdown tables (see benchmarks/README.md for what each one measures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from measure import machine, pct
from servers import Server


@dataclass(frozen=True)
class Plan:
    runs: int
    counts: dict[str, int]  # messages per throughput run, by size (at least one per connection)
    concurrency: tuple[int, ...]
    reuse: tuple[bool, ...]
    latency_messages: int
    rss_small: int
    rss_large: int
    lag_large: int
    api_sizes: tuple[int, ...]
    api_repeats: int


PLANS = {
    "full": Plan(
        runs=3,
        counts={"1KB": 2000, "50KB": 500, "1MB": 64, "10MB": 12},
        concurrency=(1, 8, 32),
        reuse=(True, False),
        latency_messages=500,
        rss_small=10_000,
        rss_large=200,
        lag_large=16,
        api_sizes=(10_000, 100_000),
        api_repeats=30,
    ),
    "quick": Plan(
        runs=1,
        counts={"1KB": 1000, "50KB": 200, "1MB": 32, "10MB": 8},
        concurrency=(8,),
        reuse=(True, False),
        latency_messages=200,
        rss_small=10_000,
        rss_large=200,
        lag_large=8,
        api_sizes=(10_000,),
        api_repeats=10,
    ),
    # Proves the harness works end to end (tests/test_benchmarks.py); its numbers mean nothing.
    "tiny": Plan(
        runs=1,
        counts={"1KB": 4, "50KB": 2, "1MB": 2, "10MB": 1},
        concurrency=(2,),
        reuse=(True, False),
        latency_messages=3,
        rss_small=5,
        rss_large=2,
        lag_large=1,
        api_sizes=(20,),
        api_repeats=2,
    ),
}


async def clear(server: Server, http: httpx.AsyncClient) -> None:
    if server.kind == "mailtrap-lite":
        (await http.delete(f"{server.url}/api/messages")).raise_for_status()


async def settled_cpu(server: Server, http: httpx.AsyncClient) -> float:
    """The server's CPU seconds once the work a run left behind is done: with --db the search index is
    built after the 250s, and its cost belongs to the messages that caused it."""
    if server.kind == "mailtrap-lite":
        deadline = time.monotonic() + 120
        while (await http.get(f"{server.url}/api/stats")).json().get(
            "unindexed"
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    return server.cpu_seconds()


# --- 1. throughput --------------------------------------------------------------------------------------


async def ceiling(plan: Plan, templates: dict[str, loadgen.Template]) -> list[dict[str, Any]]:
    """The load generator against a server that answers instantly: what it can send at most."""
    rows = []
    with Server("instant") as instant:
        for size in templates:
            for reuse in plan.reuse:
                count = max(plan.counts[size], 8)
                results = [
                    await loadgen.blast(
                        "127.0.0.1", instant.smtp_port, templates[size], count, 8, reuse=reuse
                    )
                    for _ in range(plan.runs)
                ]
                best = _median_result(results)
                rows.append({"size": size, "reuse": reuse, **best})
    return rows


def _median_result(results: list[loadgen.Result]) -> dict[str, float]:
    return {
        "msg_s": statistics.median(r.per_second for r in results),
        "mb_s": statistics.median(r.mb_per_second for r in results),
        "client_cpu": statistics.median(r.client_cpu / r.wall for r in results),
    }


async def throughput(
    plan: Plan, templates: dict[str, loadgen.Template], sink: Server, catcher: Server, http: httpx.AsyncClient
) -> list[dict[str, Any]]:
    rows = []
    for size, template in templates.items():
        for concurrency in plan.concurrency:
            for reuse in plan.reuse:
                count = max(plan.counts[size], concurrency)
                measured: dict[str, list[tuple[loadgen.Result, float]]] = {"sink": [], "catcher": []}
                for _ in range(plan.runs):  # alternate, so background noise hits both alike
                    for name, server in (("sink", sink), ("catcher", catcher)):
                        await clear(server, http)
                        cpu = server.cpu_seconds()
                        result = await loadgen.blast(
                            "127.0.0.1", server.smtp_port, template, count, concurrency, reuse=reuse
                        )
                        measured[name].append((result, await settled_cpu(server, http) - cpu))
                row: dict[str, Any] = {"size": size, "conns": concurrency, "reuse": reuse, "count": count}
                for name, pairs in measured.items():
                    row[name] = {
                        **_median_result([r for r, _ in pairs]),
                        "cpu_per_1k": statistics.median(cpu / r.messages * 1000 for r, cpu in pairs),
                    }
                row["ratio_msg"] = row["catcher"]["msg_s"] / row["sink"]["msg_s"]
                rows.append(row)
                print(
                    f"  {size:>5} x{concurrency:<2} {'reuse' if reuse else 'new  '}: "
                    f"sink {row['sink']['msg_s']:8.1f}/s {row['sink']['mb_s']:6.1f} MB/s, "
                    f"mailtrap-lite {row['catcher']['msg_s']:8.1f}/s {row['catcher']['mb_s']:6.1f} MB/s "
                    f"({row['ratio_msg']:.2f}x)",
                    file=sys.stderr,
                )
    await clear(catcher, http)
    return rows


# --- 2. 250 -> visible ----------------------------------------------------------------------------------


async def visibility(plan: Plan, catcher: Server, http: httpx.AsyncClient) -> dict[str, Any]:
    """Time from the client reading 250 until the message is on the websocket (or long-poll) and the API."""
    template = loadgen.build_template("1KB")
    connection = await loadgen.Connection.open("127.0.0.1", catcher.smtp_port)
    push: list[float] = []
    api: list[float] = []
    channel = await _websocket(catcher)
    try:
        for index in range(plan.latency_messages):
            subject = f"lat{index:06d}x"
            head = template.head(index, "app@bench.example", subject)
            if channel is not None:
                reply = await connection.send(head, template.body)
                acked = time.perf_counter()
                arrived = await _ws_arrival(channel, subject)
            else:
                waiter = asyncio.create_task(
                    http.get(f"{catcher.url}/api/messages/wait", params={"q": f"subject:{subject}"})
                )
                await asyncio.sleep(0.01)  # let the long-poll subscribe before the message exists
                reply = await connection.send(head, template.body)
                acked = time.perf_counter()
                (await waiter).raise_for_status()
                arrived = time.perf_counter()
            push.append((arrived - acked) * 1000)
            message_id = loadgen.message_id_of(reply)
            while (await http.get(f"{catcher.url}/api/messages/{message_id}")).status_code != 200:
                pass
            api.append((time.perf_counter() - acked) * 1000)
    finally:
        await connection.close()
        if channel is not None:
            await channel.close()
    await clear(catcher, http)
    return {
        "channel": "websocket" if channel is not None else "long-poll",
        "push_p50": pct(push, 0.5),
        "push_p99": pct(push, 0.99),
        "api_p50": pct(api, 0.5),
        "api_p99": pct(api, 0.99),
    }


async def _websocket(catcher: Server) -> Any:
    import websockets

    try:
        return await websockets.connect(f"ws://127.0.0.1:{catcher.http_port}/api/ws")
    except (OSError, websockets.exceptions.InvalidStatus, websockets.exceptions.InvalidHandshake):
        return None


async def _ws_arrival(channel: Any, subject: str) -> float:
    while True:
        frame = json.loads(await asyncio.wait_for(channel.recv(), 10))
        if frame.get("type") == "message.new" and frame["data"].get("subject") == subject:
            return time.perf_counter()


# --- 3. memory and loop lag on fresh servers -----------------------------------------------------------


async def memory_and_lag(plan: Plan, db: bool, http: httpx.AsyncClient) -> dict[str, Any]:
    small, large, huge = (loadgen.build_template(s) for s in ("1KB", "1MB", "10MB"))
    out: dict[str, Any] = {}
    for kind in ("aiosmtpd", "mailtrap-lite"):
        with Server(kind, db=db) as server:
            await loadgen.blast("127.0.0.1", server.smtp_port, small, plan.rss_small, 8)
            out[(kind, "rss_small")] = server.peak_rss_mb()
        with Server(kind, db=db) as server:
            await loadgen.blast("127.0.0.1", server.smtp_port, large, plan.rss_large, 8)
            out[(kind, "rss_large")] = server.peak_rss_mb()
    with Server("mailtrap-lite", db=db) as server:
        probes: list[float] = []
        sending = asyncio.create_task(loadgen.blast("127.0.0.1", server.smtp_port, huge, plan.lag_large, 4))
        while not sending.done():
            start = time.perf_counter()
            (await http.get(f"{server.url}/livez")).raise_for_status()
            probes.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.01)
        await sending
        lag = (await http.get(f"{server.url}/api/stats")).json()["loop_lag_ms"]
        out["lag"] = {
            "loop_max": lag["max"],
            "loop_p99": lag["p99"],
            "livez_p50": pct(probes, 0.5),
            "livez_p99": pct(probes, 0.99),
            "livez_max": max(probes),
        }
    return {"rss": {f"{k[0]}/{k[1]}": v for k, v in out.items() if isinstance(k, tuple)}, "lag": out["lag"]}


# --- 4. API latency with many stored messages ----------------------------------------------------------


async def api_latency(plan: Plan, db: bool, http: httpx.AsyncClient) -> list[dict[str, Any]]:
    template = loadgen.build_template("1KB")
    rows = []
    with Server("mailtrap-lite", db=db) as server:
        stored = 0
        ids: list[str] = []
        for target in plan.api_sizes:
            result = await loadgen.blast(
                "127.0.0.1",
                server.smtp_port,
                template,
                target - stored,
                8,
                subjects=lambda i, base=stored: loadgen.varied(base + i),
                keep_ids=True,
            )
            ids += result.ids
            stored = target
            calls = _api_calls(http, server, ids, random.Random(target))
            row: dict[str, Any] = {"stored": target}
            for name, call in calls.items():
                timings = []
                for _ in range(plan.api_repeats):
                    start = time.perf_counter()
                    (await call()).raise_for_status()
                    timings.append((time.perf_counter() - start) * 1000)
                row[name] = {"p50": pct(timings, 0.5), "p99": pct(timings, 0.99)}
            row["rss_mb"] = server.peak_rss_mb()
            rows.append(row)
    return rows


def _api_calls(
    http: httpx.AsyncClient, server: Server, ids: list[str], rng: random.Random
) -> dict[str, Callable[[], Awaitable[httpx.Response]]]:
    return {
        "first page": lambda: http.get(f"{server.url}/api/messages", params={"limit": 50}),
        "open": lambda: http.get(f"{server.url}/api/messages/{rng.choice(ids)}"),
        "field search": lambda: http.get(
            f"{server.url}/api/messages",
            params={"q": f"from:user{rng.randrange(loadgen.SENDERS)}@", "limit": 50},
        ),
        "free-text search": lambda: http.get(
            f"{server.url}/api/messages", params={"q": rng.choice(loadgen.WORDS), "limit": 50}
        ),
    }


# --- report ---------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"Machine: {m['cpus']} CPUs, {m['cpu']}, Python {m['python']}, Linux {m['kernel']}; "
        f"store: {results['store']}; plan: {results['plan']} (medians of {results['runs']} runs); "
        f"load average at the end: {m['load']}.",
        "",
        "**Ingest throughput** (sink = bare aiosmtpd answering 250; ratio = mailtrap-lite ÷ sink; "
        "CPU = server CPU seconds per 1,000 messages; client = load generator CPU use)",
        "",
        "| message | conns | reuse | sink msg/s | sink MB/s | mailtrap-lite msg/s | MB/s | ratio "
        "| CPU s/1k sink | CPU s/1k m-l | client |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results["throughput"]:
        s, c = r["sink"], r["catcher"]
        out.append(
            f"| {r['size']} {loadgen.KINDS[r['size']]} | {r['conns']} | {'yes' if r['reuse'] else 'no'} "
            f"| {s['msg_s']:.0f} | {s['mb_s']:.1f} | {c['msg_s']:.0f} | {c['mb_s']:.1f} "
            f"| **{r['ratio_msg']:.2f}x** "
            f"| {s['cpu_per_1k']:.2f} | {c['cpu_per_1k']:.2f} | {c['client_cpu']:.0%} |"
        )
    out += [
        "",
        "**Load generator ceiling** (the same client against a trivial asyncio server that answers at once, "
        "8 connections)",
        "",
        "| message | reuse | msg/s | MB/s | client CPU |",
        "|---|---|--:|--:|--:|",
    ]
    for r in results["ceiling"]:
        out.append(
            f"| {r['size']} | {'yes' if r['reuse'] else 'no'} | {r['msg_s']:.0f} | {r['mb_s']:.1f} "
            f"| {r['client_cpu']:.0%} |"
        )
    v = results["visibility"]
    out += [
        "",
        f"**250 → visible** (1 KB messages, one at a time; ms from the client reading 250): "
        f"{v['channel']} p50 {v['push_p50']:.2f} / p99 {v['push_p99']:.2f}; "
        f"API (`GET /api/messages/{{id}}` answers 200) p50 {v['api_p50']:.2f} / p99 {v['api_p99']:.2f}",
        "",
        "**Peak RSS** (VmHWM, MB, fresh process each)",
        "",
        "| server | 1 KB x "
        + str(results["plan_rss"][0])
        + " | 1 MB x "
        + str(results["plan_rss"][1])
        + " |",
        "|---|--:|--:|",
    ]
    rss = results["memory"]["rss"]
    for kind in ("aiosmtpd", "mailtrap-lite"):
        out.append(f"| {kind} | {rss[kind + '/rss_small']:.0f} | {rss[kind + '/rss_large']:.0f} |")
    lag = results["memory"]["lag"]
    out += [
        "",
        f"**Event loop while receiving 10 MB messages** (4 connections): "
        f"loop lag max {lag['loop_max']:.1f} ms, "
        f"p99 {lag['loop_p99']:.1f} ms; `/livez` answered in p50 {lag['livez_p50']:.1f} / "
        f"p99 {lag['livez_p99']:.1f} / max {lag['livez_max']:.1f} ms",
        "",
        "**API latency** (ms, p50 / p99; 1 KB messages with varied senders and subjects)",
        "",
        "| stored | first page | open | field search | free-text search | peak RSS MB |",
        "|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results["api"]:
        cells = " | ".join(
            f"{r[k]['p50']:.1f} / {r[k]['p99']:.1f}"
            for k in ("first page", "open", "field search", "free-text search")
        )
        out.append(f"| {r['stored']:,} | {cells} | {r['rss_mb']:.0f} |")
    return "\n".join(out)


async def main(plan_name: str, db: bool) -> dict[str, Any]:
    plan = PLANS[plan_name]
    templates = {size: loadgen.build_template(size) for size in loadgen.SIZES}
    results: dict[str, Any] = {
        "plan": plan_name,
        "runs": plan.runs,
        "store": "sqlite" if db else "memory",
        "plan_rss": (plan.rss_small, plan.rss_large),
    }
    async with httpx.AsyncClient(timeout=60) as http:
        print("load generator ceiling ...", file=sys.stderr)
        results["ceiling"] = await ceiling(plan, templates)
        with Server("aiosmtpd") as sink, Server("mailtrap-lite", db=db) as catcher:
            print("throughput ...", file=sys.stderr)
            results["throughput"] = await throughput(plan, templates, sink, catcher, http)
            print("250 -> visible ...", file=sys.stderr)
            results["visibility"] = await visibility(plan, catcher, http)
        print("memory and loop lag ...", file=sys.stderr)
        results["memory"] = await memory_and_lag(plan, db, http)
        print("API latency ...", file=sys.stderr)
        results["api"] = await api_latency(plan, db, http)
    results["machine"] = machine()
    return results


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_const", dest="plan", const="quick", default="full")
    parser.add_argument("--tiny", action="store_const", dest="plan", const="tiny", help=argparse.SUPPRESS)
    parser.add_argument("--db", action="store_true", help="run mailtrap-lite with --db (SQLite)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = asyncio.run(main(args.plan, args.db))
    results["seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results))
    print(f"\n({results['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
