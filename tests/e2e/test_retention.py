"""Retention: a long-running catcher keeps at most --max-messages, dropping the oldest first."""

from __future__ import annotations

import time

import httpx
import pytest

from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.helpers import reply_of


@pytest.fixture
def server_config() -> Config:
    return free_config(max_messages=3)


def test_oldest_messages_are_pruned(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    for n in range(5):
        assert reply_of(smtp_address, f"Subject: n{n}\r\n\r\nx\r\n".encode())[0] == 250
    deadline = time.monotonic() + 20
    while api.get("/api/messages").json()["total"] > 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    subjects = [m["subject"] for m in api.get("/api/messages").json()["messages"]]
    assert subjects == ["n4", "n3", "n2"]
    assert api.get("/api/stats").json()["messages"] == 3
