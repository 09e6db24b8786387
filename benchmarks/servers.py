"""The servers under test, each a subprocess on free ports, and what /proc says about them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Server:
    """A running server process: ``kind`` is ``mailtrap-lite``, ``aiosmtpd`` or ``instant``."""

    kind: str
    db: bool = False
    db_url: str | None = None  # a PostgreSQL URL for --db, instead of a SQLite file
    # Retention: the default never prunes during a throughput run; the soak sets it low so pruning runs.
    max_messages: int = 1_000_000
    smtp_port: int = field(default_factory=free_port)
    http_port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> Server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if self.kind == "mailtrap-lite":
            self.http_port = free_port()
            command = [
                sys.executable,
                "-m",
                "mailtrap_lite",
                "--smtp",
                f"127.0.0.1:{self.smtp_port}",
                "--http",
                f"127.0.0.1:{self.http_port}",
                "--max-messages",
                str(self.max_messages),
                "--quiet",
            ]
            if self.db_url is not None:
                command += ["--db", self.db_url]
            elif self.db:
                self._tmp = tempfile.TemporaryDirectory(prefix="mailtrap-bench-")
                command += ["--db", str(self.db_path)]
        else:
            command = [sys.executable, str(HERE / "sink.py"), self.kind, str(self.smtp_port)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} did not start: {command}")
            time.sleep(0.05)
        return self

    def _ready(self) -> bool:
        if not _listening(self.smtp_port):
            return False
        if self.http_port is None:
            return True
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def db_path(self) -> Path | None:
        return Path(self._tmp.name) / "bench.db" if self._tmp is not None else None

    def db_bytes(self) -> tuple[int, int]:
        """Sizes of the database file and its write-ahead log (0 for a file that does not exist)."""
        path = self.db_path
        if path is None:
            return 0, 0
        sizes = []
        for candidate in (path, path.with_name(path.name + "-wal")):
            try:
                sizes.append(candidate.stat().st_size)
            except FileNotFoundError:
                sizes.append(0)
        return sizes[0], sizes[1]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def processes(self) -> list[int]:
        """The server's process and its children (the SQLite writer process, with --db)."""
        children: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            children += [int(pid) for pid in (task / "children").read_text().split()]
        return [self.pid, *children]

    def cpu_seconds(self) -> float:
        """User + system time of the server's processes, every thread included."""
        total = 0
        for pid in self.processes():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / TICKS

    def status(self, key: str) -> dict[int, int]:
        """A numeric /proc status field (``VmRSS`` in kB, ``Threads``...) per server process."""
        values = {}
        for pid in self.processes():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    values[pid] = int(line.split()[1])
        return values

    def peak_rss_mb(self) -> float:
        """Peak RSS of the server's processes, added up (an upper bound: their peaks may not coincide)."""
        return sum(self.status("VmHWM").values()) / 1024

    def open_fds(self) -> dict[int, int]:
        """Open file descriptors of each of the server's processes."""
        return {pid: len(os.listdir(f"/proc/{pid}/fd")) for pid in self.processes()}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
