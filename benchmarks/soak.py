"""The soak benchmark: minutes of mixed load on loopback, watching whether anything keeps growing.

    python benchmarks/soak.py [--minutes 10] [--db] [--json FILE] [--sample-seconds 10]
                              [--max-messages 10000] [--rows 20]

One mailtrap-lite process (with --db, on a temporary database) receives, for the whole duration and all at
once: SMTP senders of 1 KB, 50 KB and 1 MB messages (some reusing their connection, some one message per
connection), a sender that drops its connection halfway through DATA, a websocket client that reads one
frame a second, a websocket client that subscribes and then drops the TCP connection without a close
frame, over and over, API readers (list, search, open, raw, attachment download), deletions by query and
of everything, and the pruning that --max-messages forces. Every sample interval it records the server's
RSS and open file descriptors (all its processes: with --db the writer process too), its loop lag from
/api/stats, the messages stored, the database's size, and what the clients did since the last sample.
It prints a Markdown table and, per metric, whether it levels off (the rule is printed with it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import math
import os
import random
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
import websockets.exceptions

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from measure import commit, machine, pct
from servers import Server

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Sender:
    size: str
    reuse: bool  # one connection for every message, or a new connection (EHLO ... QUIT) per message
    pause: float  # seconds between two messages of one sender
    copies: int


# ~150 messages/s when the server keeps up: enough to reach the default --max-messages between two
# deletions of everything and then prune, and paced so the soak measures a steady load rather than the
# machine's ceiling.
LOAD = (
    Sender("1KB", True, 0.01, 2),
    Sender("1KB", False, 0.05, 2),
    Sender("50KB", True, 0.1, 1),
    Sender("50KB", False, 0.2, 1),
    Sender("1MB", True, 1.0, 1),
    Sender("1MB", False, 2.0, 1),
)
SMTP_VANISH_PAUSE = 0.25
WS_VANISH_PAUSE = 0.5
WS_SLOW_PAUSE = 1.0
API_READERS = 2
API_PAUSE = 0.1
OP_TIMEOUT = 60.0  # no single operation may hang past the deadline for longer than this
SLOW_CLIENT_RCVBUF = 8192  # so the slow websocket client's backlog reaches the server quickly

# A metric levels off when the last third's largest value is at most TOLERANCE above the middle third's,
# plus SLACK in the metric's unit for values that move in steps (descriptors come and go with connections).
TOLERANCE = 0.10
SLACK = {"rss_mb": 5.0, "fds": 10.0, "threads": 2.0, "db_mb": 5.0, "lag_p99_ms": 20.0}
JUDGED = {  # metric: (its name in the report, its slack's unit)
    "rss_mb": ("RSS (MB)", "MB of RSS"),
    "fds": ("file descriptors", "descriptors"),
    "threads": ("threads", "threads"),
    "db_mb": ("database + WAL (MB)", "MB of database"),
    "lag_p99_ms": ("loop lag p99 (ms)", "ms of loop lag"),
}

SMTP_ERRORS = (loadgen.SMTPError, OSError, EOFError, TimeoutError, ValueError)
WS_ERRORS = (OSError, EOFError, TimeoutError, ValueError, websockets.exceptions.WebSocketException)


@dataclass
class Counts:
    """What the clients did; the sampler reports the difference between two samples."""

    sent: int = 0  # complete messages written (not counting the deliberately abandoned ones)
    acked: int = 0  # ... answered 250
    failed: int = 0  # SMTP connections or transactions that ended in an error
    vanished: int = 0  # SMTP connections dropped halfway through DATA, on purpose
    api_calls: int = 0
    api_gone: int = 0  # 404: deleted or pruned between listing it and opening it
    api_failed: int = 0
    deleted: int = 0
    ws_frames: int = 0  # frames the slow websocket client read
    ws_closed: int = 0  # times the server closed the slow client's connection
    ws_vanished: int = 0  # websocket connections dropped without a close frame, on purpose
    ws_failed: int = 0


class Soak:
    def __init__(self, server: Server, seconds: float, http: httpx.AsyncClient) -> None:
        self.server = server
        self.http = http
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.seconds = seconds
        self.counts = Counts()
        self.errors: collections.Counter[str] = collections.Counter()
        self.latencies: list[float] = []
        self.deletions: list[dict[str, Any]] = []
        # Held through each DELETE: the sampler waits for its answer, so that what a deletion removed and
        # what the server then stores are counted in the same sample.
        self.deleting = asyncio.Lock()
        self._index = 0
        self.templates = {size: loadgen.build_template(size) for size in ("1KB", "50KB", "1MB")}

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def next_head(self, template: loadgen.Template) -> bytes:
        self._index += 1
        return template.head(self._index, *loadgen.varied(self._index))

    def failure(self, where: str, error: BaseException) -> None:
        self.errors[f"{where}: {type(error).__name__} {str(error)[:60]}".strip()] += 1

    def tasks(self) -> list[asyncio.Task[None]]:
        rng = random.Random(12)
        coroutines = [self.sender(spec) for spec in LOAD for _ in range(spec.copies)]
        coroutines += [
            self.smtp_vanisher(),
            self.slow_websocket(),
            self.vanishing_websocket(),
            self.deleter(),
        ]
        coroutines += [self.api_reader(random.Random(rng.random())) for _ in range(API_READERS)]
        return [asyncio.create_task(c) for c in coroutines]

    # --- SMTP -------------------------------------------------------------------------------------------

    async def sender(self, spec: Sender) -> None:
        template = self.templates[spec.size]
        connection: loadgen.Connection | None = None
        while self.running():
            try:
                async with asyncio.timeout(OP_TIMEOUT):
                    if connection is None:
                        connection = await loadgen.Connection.open(HOST, self.server.smtp_port)
                    self.counts.sent += 1
                    await connection.send(self.next_head(template), template.body)
                    self.counts.acked += 1
                    if not spec.reuse:
                        await connection.close()
                        connection = None
            except SMTP_ERRORS as error:
                self.counts.failed += 1
                self.failure("smtp", error)
                if connection is not None:
                    loadgen.vanish(connection.writer, reset=False)
                    connection = None
            await asyncio.sleep(spec.pause)
        if connection is not None:
            try:
                async with asyncio.timeout(OP_TIMEOUT):
                    await connection.close()
            except SMTP_ERRORS as error:
                self.failure("smtp quit", error)

    async def smtp_vanisher(self) -> None:
        """Connects, starts DATA, writes half a message and drops the connection (FIN or RST in turn)."""
        sizes = list(self.templates.values())
        turn = 0
        while self.running():
            template = sizes[turn % len(sizes)]
            try:
                async with asyncio.timeout(OP_TIMEOUT):
                    connection = await loadgen.Connection.open(HOST, self.server.smtp_port)
                    await connection.begin_data()
                    connection.writer.write(self.next_head(template))
                    connection.writer.write(template.body[: len(template.body) // 2])
                    await connection.writer.drain()
                    loadgen.vanish(connection.writer, reset=(turn // len(sizes)) % 2 == 1)
                    self.counts.vanished += 1
            except SMTP_ERRORS as error:
                self.counts.failed += 1
                self.failure("smtp vanisher", error)
            turn += 1
            await asyncio.sleep(SMTP_VANISH_PAUSE)

    # --- websocket --------------------------------------------------------------------------------------

    async def slow_websocket(self) -> None:
        """Reads one frame a second with a small receive buffer; reconnects when the server gives up on it."""
        url = f"ws://{HOST}:{self.server.http_port}/api/ws"
        while self.running():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_CLIENT_RCVBUF)
            sock.setblocking(False)
            try:
                async with asyncio.timeout(OP_TIMEOUT):
                    await asyncio.get_running_loop().sock_connect(sock, (HOST, self.server.http_port))
                # No keepalive pings: a client that reads this slowly would miss the pongs and leave by
                # itself; the point is to see the server deal with it.
                async with websockets.connect(
                    url, sock=sock, ping_interval=None, max_queue=4, open_timeout=OP_TIMEOUT, close_timeout=2
                ) as channel:
                    while self.running():
                        try:
                            await asyncio.wait_for(
                                channel.recv(), max(0.01, self.deadline - time.monotonic())
                            )
                        except TimeoutError:
                            break
                        self.counts.ws_frames += 1
                        await asyncio.sleep(WS_SLOW_PAUSE)
            except websockets.exceptions.ConnectionClosed as closed:
                self.counts.ws_closed += 1
                code = closed.rcvd.code if closed.rcvd is not None else "none"
                self.errors[f"slow websocket closed by the server (code {code})"] += 1
            except WS_ERRORS as error:
                self.counts.ws_failed += 1
                self.failure("slow websocket", error)
            finally:
                sock.close()

    async def vanishing_websocket(self) -> None:
        """Opens /api/ws by hand, subscribes, reads a frame and drops the TCP connection (FIN or RST)."""
        port = self.server.http_port
        turn = 0
        while self.running():
            try:
                async with asyncio.timeout(OP_TIMEOUT):
                    reader, writer = await asyncio.open_connection(HOST, port)
                    key = base64.b64encode(os.urandom(16)).decode()
                    writer.write(
                        f"GET /api/ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
                    )
                    answer = await reader.readuntil(b"\r\n\r\n")
                    if not answer.startswith(b"HTTP/1.1 101"):
                        raise ValueError(f"handshake answered {answer[:40]!r}")
                    writer.write(masked_text_frame(json.dumps({"subscribe": "subject:invoice"})))
                    await reader.readexactly(2)  # the start of a frame: the server has taken us in
                    loadgen.vanish(writer, reset=turn % 2 == 1)
                    self.counts.ws_vanished += 1
            except WS_ERRORS as error:
                self.counts.ws_failed += 1
                self.failure("vanishing websocket", error)
            turn += 1
            await asyncio.sleep(WS_VANISH_PAUSE)

    # --- API --------------------------------------------------------------------------------------------

    async def api(self, method: str, path: str, **params: Any) -> httpx.Response | None:
        """One call; None when the message is gone (404) or the call failed (counted)."""
        start = time.perf_counter()
        response = await self.http.request(method, f"{self.server.url}{path}", params=params or None)
        self.latencies.append((time.perf_counter() - start) * 1000)
        self.counts.api_calls += 1
        if response.status_code == 404:
            self.counts.api_gone += 1
            return None
        if response.status_code >= 400:
            self.counts.api_failed += 1
            self.errors[f"api: {method} {path.split('/')[2]} answered {response.status_code}"] += 1
            return None
        return response

    async def api_reader(self, rng: random.Random) -> None:
        while self.running():
            try:
                async with asyncio.timeout(OP_TIMEOUT):
                    await self.read_once(rng)
            except (httpx.HTTPError, TimeoutError) as error:
                self.counts.api_failed += 1
                self.failure("api", error)
            await asyncio.sleep(API_PAUSE)

    async def read_once(self, rng: random.Random) -> None:
        page = await self.api("GET", "/api/messages", limit=50)
        if rng.random() < 0.5:
            await self.api("GET", "/api/messages", q=f"from:user{rng.randrange(loadgen.SENDERS)}@", limit=50)
        else:
            await self.api("GET", "/api/messages", q=rng.choice(loadgen.WORDS), limit=50)
        messages = page.json()["messages"] if page is not None else []
        if messages:
            chosen = rng.choice(messages)["id"]
            await self.api("GET", f"/api/messages/{chosen}")
            await self.api("GET", f"/api/messages/{chosen}/raw")
        with_attachment = await self.api("GET", "/api/messages", q="has:attachment", limit=5)
        candidates = with_attachment.json()["messages"] if with_attachment is not None else []
        if candidates:
            chosen = rng.choice(candidates)["id"]
            opened = await self.api("GET", f"/api/messages/{chosen}")
            attachments = opened.json()["attachments"] if opened is not None else []
            if attachments:
                await self.api("GET", f"/api/messages/{chosen}/parts/{attachments[0]['part_id']}")

    async def deleter(self) -> None:
        """Deletes by query every 1/40 of the run and everything every quarter of it."""
        rng = random.Random(5)
        query_every, all_every = self.seconds / 40, self.seconds / 4
        next_query, next_all = self.started + query_every, self.started + all_every
        while (wake := min(next_query, next_all)) < self.deadline:
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            params: dict[str, Any] = {}
            if next_all <= wake:
                next_all += all_every
                next_query = max(next_query, wake + query_every)
            else:
                # A subject starts with its word and " #" ("order" alone is in every subject).
                params["q"] = f'subject:"{rng.choice(loadgen.WORDS)} #"'
                next_query += query_every
            try:
                async with self.deleting, asyncio.timeout(OP_TIMEOUT):
                    start = time.monotonic()
                    response = await self.api("DELETE", "/api/messages", **params)
                    if response is not None:
                        deleted = response.json()["deleted"]
                        self.counts.deleted += deleted
                        self.deletions.append(
                            {
                                "t": round(start - self.started, 1),
                                "q": params.get("q", ""),
                                "deleted": deleted,
                                "ms": round((time.monotonic() - start) * 1000, 1),
                            }
                        )
            except (httpx.HTTPError, TimeoutError) as error:
                self.failure("delete", error)


def masked_text_frame(text: str) -> bytes:
    """A client's websocket text frame (RFC 6455 §5.2: clients mask), for payloads under 126 bytes."""
    payload = text.encode()
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


# --- sampling -------------------------------------------------------------------------------------------


@dataclass
class Sampler:
    server: Server
    probe: httpx.AsyncClient
    soak: Soak | None = None
    _counts: dict[str, int] = field(default_factory=dict)
    _cpu: float | None = None
    _at: float = field(default_factory=time.monotonic)

    async def sample(self, origin: float) -> dict[str, Any]:
        """The server's state now, with ``t`` in seconds since ``origin``."""
        if self.soak is None:
            return await self._sample(origin)
        async with self.soak.deleting:
            return await self._sample(origin)

    async def _sample(self, origin: float) -> dict[str, Any]:
        t = time.monotonic() - origin
        stats = (await self.probe.get(f"{self.server.url}/api/stats")).json()
        rss = self.server.status("VmRSS")
        # Heap apart from mapped files (SQLite maps the database into each reading connection).
        anon = self.server.status("RssAnon")
        fds = self.server.open_fds()
        threads = self.server.status("Threads")
        db, wal = self.server.db_bytes()
        now, cpu = time.monotonic(), self.server.cpu_seconds()
        counts = asdict(self.soak.counts) if self.soak is not None else {}
        # Retention's work, which no counter reports: what arrived and is neither deleted nor stored.
        counts["pruned"] = stats["received_total"] - counts.get("deleted", 0) - stats["messages"]
        row: dict[str, Any] = {
            "t": round(t, 1),
            "rss_mb": sum(rss.values()) / 1024,
            "fds": sum(fds.values()),
            "threads": sum(threads.values()),
            "processes": [
                {
                    "pid": pid,
                    "rss_mb": rss.get(pid, 0) / 1024,
                    "rss_anon_mb": anon.get(pid, 0) / 1024,
                    "fds": fds.get(pid, 0),
                    "threads": threads.get(pid, 0),
                }
                for pid in fds
            ],
            "lag_p99_ms": stats["loop_lag_ms"]["p99"],
            "lag_max_ms": stats["loop_lag_ms"]["recent_max"],
            "stored": stats["messages"],
            "subscribers": stats["subscribers"],
            "open_sessions": stats["open_sessions"],
            "load": os.getloadavg()[0],
            "cpu": (cpu - self._cpu) / (now - self._at) if self._cpu is not None else 0.0,
            "interval": {k: v - self._counts.get(k, 0) for k, v in counts.items()},
        }
        if self.server.db:
            row.update(db_mb=(db + wal) / 1e6, db_file_mb=db / 1e6, wal_mb=wal / 1e6)
        if self.soak is not None:
            row["api_p99_ms"] = pct(self.soak.latencies, 0.99) if self.soak.latencies else 0.0
            self.soak.latencies.clear()
        self._counts, self._cpu, self._at = counts, cpu, now
        return row


async def soak(minutes: float, db: bool, sample_seconds: float, max_messages: int) -> dict[str, Any]:
    seconds = minutes * 60
    results: dict[str, Any] = {
        "store": "sqlite" if db else "memory",
        "minutes": minutes,
        "sample_seconds": sample_seconds,
        "max_messages": max_messages,
        "commit": commit(),
    }
    limits = httpx.Limits(max_connections=20)
    with Server("mailtrap-lite", db=db, max_messages=max_messages) as server:
        async with httpx.AsyncClient(timeout=OP_TIMEOUT) as probe:
            sampler = Sampler(server, probe)
            results["baseline"] = await sampler.sample(time.monotonic())
            async with httpx.AsyncClient(timeout=OP_TIMEOUT, limits=limits) as http:
                load = Soak(server, seconds, http)
                sampler.soak = load
                cpu_before = time.process_time()
                tasks = load.tasks()
                samples = []
                for k in range(1, max(1, math.floor(seconds / sample_seconds + 1e-9)) + 1):
                    await asyncio.sleep(max(0.0, load.started + k * sample_seconds - time.monotonic()))
                    samples.append(await sampler.sample(load.started))
                    print(_progress(samples[-1]), file=sys.stderr)
                _, late = await asyncio.wait(tasks, timeout=OP_TIMEOUT)
                for task in late:
                    task.cancel()
                for task in tasks:
                    if not task.cancelled() and (crash := task.exception()) is not None:
                        raise crash
                results["client_cpu"] = (time.process_time() - cpu_before) / (time.monotonic() - load.started)
            stopped = time.monotonic()
            await asyncio.sleep(min(5.0, sample_seconds))
            results["after"] = await sampler.sample(load.started)
            results["after"]["since_stop"] = round(time.monotonic() - stopped, 1)
    results["samples"] = samples
    results["late_tasks"] = len(late)
    results["totals"] = asdict(load.counts)
    results["errors"] = dict(load.errors.most_common())
    results["deletions"] = load.deletions
    results["verdicts"] = verdicts(samples, db)
    results["machine"] = machine()
    return results


def _progress(row: dict[str, Any]) -> str:
    i = row["interval"]
    return (
        f"  {row['t']:7.1f}s rss {row['rss_mb']:7.1f} MB fds {row['fds']:4d} stored {row['stored']:6d} "
        f"lag p99 {row['lag_p99_ms']:6.1f} ms sent {i.get('sent', 0)} acked {i.get('acked', 0)} "
        f"failed {i.get('failed', 0)}"
    )


# --- verdicts and report --------------------------------------------------------------------------------


def verdicts(samples: list[dict[str, Any]], db: bool) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    n = len(samples)
    for metric in JUDGED:
        if metric == "db_mb" and not db:
            continue
        if n < 3:
            out[metric] = {"verdict": "too few samples"}
            continue
        middle = max(s[metric] for s in samples[n // 3 : 2 * n // 3])
        last = max(s[metric] for s in samples[2 * n // 3 :])
        levels = last <= middle * (1 + TOLERANCE) + SLACK[metric]
        out[metric] = {
            "middle_max": middle,
            "last_max": last,
            "verdict": "levels off" if levels else "still growing",
        }
    return out


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def report(results: dict[str, Any], rows: int) -> str:
    m = results["machine"]
    db = results["store"] == "sqlite"
    samples = results["samples"]
    step = max(1, math.ceil(len(samples) / rows))
    out = [
        f"Machine: {m['cpus']} CPUs, {m['cpu']}, Python {m['python']}, Linux {m['kernel']}; "
        f"commit {results['commit']}; store: {results['store']}; {results['minutes']:g} minutes, "
        f"--max-messages {results['max_messages']}; load average at the end: {m['load']}; "
        f"load generator CPU: {results['client_cpu']:.0%} of a core.",
        "",
        f"Every {step * results['sample_seconds']:g} s"
        + (f" (the JSON has every {results['sample_seconds']:g} s)" if step > 1 else "")
        + ": "
        "RSS, descriptors, threads, stored, database and the open websocket subscribers and SMTP sessions "
        "at that moment; loop lag from `/api/stats` (p99 and max of its last ~20 s; the max column is the "
        "worst since the previous row); server CPU and the client counts since the previous row; "
        "API = calls (p99 ms); pruned = received minus deleted minus stored (retention's work); server CPU "
        "as a share of one core; load = the machine's 1-minute load average (other jobs included).",
        "",
        "| time | RSS MB | fds | threads | lag p99 / max ms | stored | "
        + ("DB+WAL MB | " if db else "")
        + "sent | acked | failed | vanished | API calls (p99 ms) | deleted | pruned | ws subs | SMTP open "
        "| server CPU | load |",
        "|--:|--:|--:|--:|--:|--:|" + ("--:|" if db else "") + "--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def line(label: str, group: list[dict[str, Any]]) -> str:
        last = group[-1]
        counts: collections.Counter[str] = collections.Counter()
        for s in group:
            counts.update(s["interval"])
        api_p99 = max(s.get("api_p99_ms", 0.0) for s in group)
        cpu = sum(s["cpu"] for s in group) / len(group)
        cells = [
            label,
            f"{last['rss_mb']:.0f}",
            str(last["fds"]),
            str(last["threads"]),
            f"{last['lag_p99_ms']:.1f} / {max(s['lag_max_ms'] for s in group):.1f}",
            f"{last['stored']:,}",
            *([f"{last['db_mb']:.1f}"] if db else []),
            f"{counts['sent']:,}",
            f"{counts['acked']:,}",
            str(counts["failed"]),
            str(counts["vanished"]),
            f"{counts['api_calls']:,} ({api_p99:.0f})",
            f"{counts['deleted']:,}",
            f"{counts['pruned']:,}",
            str(last["subscribers"]),
            str(last["open_sessions"]),
            f"{cpu:.0%}",
            f"{last['load']:.1f}",
        ]
        return "| " + " | ".join(cells) + " |"

    out.append(line("before", [results["baseline"]]))
    for start in range(0, len(samples), step):
        group = samples[start : start + step]
        out.append(line(_clock(group[-1]["t"]), group))
    out.append(line(f"+{results['after']['since_stop']:g} s idle", [results["after"]]))
    out += ["", "**Per process at the end of the load** (pid: RSS MB, descriptors, threads): "]
    out[-1] += "; ".join(
        f"{p['pid']}: {p['rss_mb']:.0f} MB, {p['fds']} fds, {p['threads']} threads"
        for p in samples[-1]["processes"]
    )
    slack = ", ".join(f"{SLACK[k]:g} {unit}" for k, (_, unit) in JUDGED.items() if k in results["verdicts"])
    out += [
        "",
        f"**Verdicts.** Rule: a metric levels off when the largest value in the last third of the samples is "
        f"at most {TOLERANCE:.0%} above the largest in the middle third, plus a slack ({slack}); "
        "otherwise it is still growing.",
        "",
        "| metric | middle third max | last third max | verdict |",
        "|---|--:|--:|---|",
    ]
    for metric, v in results["verdicts"].items():
        if "middle_max" in v:
            out.append(
                f"| {JUDGED[metric][0]} | {v['middle_max']:.1f} | {v['last_max']:.1f} | **{v['verdict']}** |"
            )
        else:
            out.append(f"| {JUDGED[metric][0]} | | | {v['verdict']} |")
    t = results["totals"]
    out += [
        "",
        f"**Totals:** {t['sent']:,} messages sent, {t['acked']:,} acknowledged, {t['failed']} failed, "
        f"{t['vanished']:,} SMTP connections dropped mid-DATA; {t['api_calls']:,} API calls "
        f"({t['api_gone']:,} found the message gone, {t['api_failed']} failed); {t['deleted']:,} messages "
        f"deleted through the API; slow websocket client: {t['ws_frames']:,} frames read, closed by the "
        f"server {t['ws_closed']} times; {t['ws_vanished']:,} websocket connections dropped without a close "
        f"({t['ws_failed']} websocket failures); {results['late_tasks']} client tasks still busy "
        f"{OP_TIMEOUT:g} s after the deadline.",
    ]
    everything = [d for d in results["deletions"] if not d["q"]]
    by_query = [d["ms"] for d in results["deletions"] if d["q"]]
    if everything or by_query:
        out += [
            "",
            "**Deletions through the API:** everything at "
            + "; ".join(
                f"{_clock(d['t'])}: {d['deleted']:,} messages in {d['ms']:,.0f} ms" for d in everything
            )
            + f". By subject, {len(by_query)} times: p50 {pct(by_query, 0.5):.0f} ms, max "
            f"{max(by_query, default=0.0):.0f} ms.",
        ]
    if results["errors"]:
        out += ["", "**What the clients saw go wrong or closed** (count: what):", ""]
        out += [f"- {count}: {what}" for what, count in results["errors"].items()]
    return "\n".join(out)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (default 10)")
    parser.add_argument("--db", action="store_true", help="run mailtrap-lite with --db on a temporary file")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--max-messages", type=int, default=10_000, help="mailtrap-lite's retention limit")
    parser.add_argument("--rows", type=int, default=20, help="at most this many rows in the printed table")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.sample_seconds <= 0 or args.rows < 1:
        parser.error("--minutes, --sample-seconds and --rows must be positive")
    results = asyncio.run(soak(args.minutes, args.db, args.sample_seconds, args.max_messages))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(report(results, args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
