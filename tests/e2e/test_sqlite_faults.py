"""Faults of the SQLite store, caused for real: the writer process killed, the disk full.

Each is reported at once (SMTP 451, ``/readyz`` 503, ``/api/stats`` and ``/metrics``), writes over HTTP are
answered 503 with a JSON reason, reads keep working, one log line marks each change of state, and the store
recovers by itself once the cause is gone, without a server restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from mailtrap_lite.store.sqlite import SQLiteStore
from tests.conftest import free_config
from tests.e2e.helpers import reply_of, simple_message
from tests.web.test_api import deliver

WAIT_SECONDS = 60


@pytest.fixture
def server_config(tmp_path: Path) -> Config:
    return free_config(db=tmp_path / "box.db")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def writer_pid(server: MailServer) -> int:
    store = server.store
    assert isinstance(store, SQLiteStore) and store._writer is not None and store._writer.pid is not None
    return store._writer.pid


def store_log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def metric(api: httpx.Client, name: str) -> str:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return line.split()[1]
    raise AssertionError(f"no {name} in /metrics")


def test_a_killed_writer_is_reported_and_restarted(
    server: MailServer,
    smtp_address: tuple[str, int],
    api: httpx.Client,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailtrap_lite")
    message_id = deliver(smtp_address, "before")
    first = writer_pid(server)
    # Another connection holds the write lock, so the restarted writer waits for it: the outage lasts
    # while this test looks at it, and ends when the lock is released.
    blocker = sqlite3.connect(tmp_path / "box.db", isolation_level=None, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: api.get("/readyz").status_code == 503, "/readyz to fail")
        ready = api.get("/readyz").json()
        assert "cannot take messages" in ready["error"] and "writer" in ready["error"]
        for n in range(5):
            code, text = reply_of(smtp_address, simple_message(subject=f"refused {n}").as_bytes())
            assert (code, text[:5]) == (451, b"4.3.0")
        stats = api.get("/api/stats").json()
        assert stats["writable"] is False and stats["store_error"]
        assert metric(api, "mailtrap_store_writable") == "0"
        patched = api.patch(f"/api/messages/{message_id}", json={"read": True})
        assert patched.status_code == 503 and patched.json()["error"]
        removed = api.delete(f"/api/messages/{message_id}")
        assert removed.status_code == 503 and removed.json()["error"]
        assert api.delete("/api/messages").status_code == 503
        # Reads keep working.
        assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["before"]
        assert api.get(f"/api/messages/{message_id}/raw").status_code == 200
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_until(lambda: api.get("/readyz").status_code == 200, "the writer to be back")
    assert writer_pid(server) != first
    deliver(smtp_address, "after")
    assert api.patch(f"/api/messages/{message_id}", json={"read": True}).status_code == 200
    stats = api.get("/api/stats").json()
    assert (stats["writable"], stats["store_error"], stats["messages"]) == (True, None, 2)
    assert metric(api, "mailtrap_store_writable") == "1"
    # One line per change of state (down; still down, for the lock; up), none per refused message.
    lines = store_log_lines(caplog)
    assert 2 <= len(lines) <= 3, lines
    assert "cannot take messages" in lines[0] and lines[-1] == "the database takes messages again"
    assert not [r for r in caplog.records if r.exc_info]


@contextlib.contextmanager
def small_disk(directory: Path, size: str) -> Iterator[Path]:
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def fill(path: Path) -> None:
    """Write a file until the file system has no room left."""
    with path.open("wb", buffering=0) as ballast, contextlib.suppress(OSError):
        while True:
            ballast.write(b"\0" * 4096)


def test_a_full_disk_is_reported_and_recovers_when_space_is_freed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailtrap_lite")
    with small_disk(tmp_path / "disk", "3m") as disk:
        server = MailServer(free_config(db=disk / "box.db"))
        addresses = server.start()
        smtp = (addresses.smtp.host, addresses.smtp.port)
        try:
            with httpx.Client(base_url=addresses.url, timeout=30) as api:
                deliver(smtp, "before")
                fill(disk / "ballast")
                body = "x" * 20_000 + "\n"
                codes = []
                for n in range(300):  # the log may still have room for a few
                    code, _ = reply_of(smtp, simple_message(subject=f"full {n}", body=body).as_bytes())
                    codes.append(code)
                    if code != 250:
                        break
                assert codes[-1] == 451, codes
                ready = api.get("/readyz")
                assert ready.status_code == 503 and "full" in ready.json()["error"]
                stats = api.get("/api/stats").json()
                assert stats["writable"] is False and "full" in stats["store_error"]
                assert metric(api, "mailtrap_store_writable") == "0"
                assert api.get("/api/messages").json()["total"] == len(codes)  # reads work
                (disk / "ballast").unlink()
                wait_until(lambda: api.get("/readyz").status_code == 200, "the probe to find room again")
                assert api.get("/api/stats").json()["writable"] is True
                deliver(smtp, "after")
                lines = store_log_lines(caplog)
                assert len(lines) <= 4, lines  # down, maybe background work failing once, up
                assert "full" in lines[0] and lines[-1] == "the database takes messages again"
        finally:
            server.stop()
