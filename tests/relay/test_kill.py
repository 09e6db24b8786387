"""With --db the relay queue survives kill -9, and a relay that got its 250 is not sent again."""

from __future__ import annotations

import signal
import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.conftest import free_config
from tests.relay.helpers import RAW, api_of, messages, running, smtp_of, wait_until
from tests.test_cli import running as running_cli


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


def relay_args(db: Path, upstream: MailServer) -> tuple[str, ...]:
    host, port = smtp_of(upstream)
    return (
        *("--db", str(db), "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"),
        *("--relay", f"{host}:{port}", "--relay-tls", "none", "--relay-auto", ""),
        *("--relay-retry-base", "1s", "--relay-retries", "10"),
    )


def queue(url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = httpx.get(f"{url}/api/relay/queue", timeout=30).json()["items"]
    return items


@pytest.mark.slow
def test_a_queued_retry_survives_kill_9_and_is_sent_once(upstream: MailServer, tmp_path: Path) -> None:
    with api_of(upstream) as up:
        up.post("/api/faults", json={"stage": "rcpt", "code": 451, "times": 2})
    args = relay_args(tmp_path / "relay.db", upstream)
    with running_cli(*args) as (process, smtp, url):
        host, port = smtp.rsplit(":", 1)
        with smtplib.SMTP(host, int(port), timeout=30) as client:
            client.sendmail("app@example.com", ["ann@example.com"], RAW)
        wait_until(lambda: [i for i in queue(url) if i["attempts"] >= 1], what="a deferred first try")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with running_cli(*args) as (process, _, url):
        # The queue came back from the database and the retry went out on its own schedule.
        wait_until(lambda: queue(url) == [], what="the queued retry to be sent")
        with api_of(upstream) as up:
            assert len(wait_until(lambda: messages(up), what="the relayed message")) == 1
        (message,) = httpx.get(f"{url}/api/messages", timeout=30).json()["messages"]
        results = [r["result"] for r in message["releases"]]
        assert results[-1] == "sent" and set(results[:-1]) == {"deferred"}
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with running_cli(*args) as (_, _, url):
        # Sent before the kill: nothing is queued again, so nothing goes out twice.
        assert queue(url) == []
        (message,) = httpx.get(f"{url}/api/messages", timeout=30).json()["messages"]
        assert message["releases"][-1]["result"] == "sent"
    with api_of(upstream) as up:
        assert len(messages(up)) == 1
