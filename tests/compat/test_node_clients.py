"""The npm clients of Mailpit (``mailpit-api``) and MailHog (``mailhog``), unmodified, against a real
server holding mail sent over SMTP and relaying to a second one: the scripts in node/ call list, search,
read, tag, read-status, send, release and delete and assert each answer with node:assert."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.compat.mail import send_both
from tests.conftest import free_config
from tests.relay.helpers import api_of, relaying, running, smtp_of

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


@pytest.fixture
def server_config(upstream: MailServer) -> Config:
    return relaying(upstream, relay_allow=("*@example.com",))


def released(upstream: MailServer) -> list[tuple[str, list[str]]]:
    """(subject, envelope recipients) of what reached the upstream, oldest first."""
    with api_of(upstream) as up:
        found = up.get("/api/messages").json()["messages"]
    return [(m["subject"], [r["address"] for r in m["envelope"]["recipients"]]) for m in reversed(found)]


@pytest.fixture(scope="session")
def node() -> str:
    """Node, with the clients installed exactly as package-lock.json pins them (``npm ci``)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "these tests need node and npm (Debian: apt-get install nodejs npm)"
    # pytest-xdist workers share the directory: one installs while the others wait.
    with (NODE_DIR / "package-lock.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_DIR / "node_modules" / ".package-lock.json").exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=NODE_DIR,
                check=True,
                capture_output=True,
                timeout=300,
            )
    return node


def run(node: str, script: str, *args: str) -> str:
    done = subprocess.run(
        [node, script, *args], cwd=NODE_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_mailpit_api_client(
    node: str, server: MailServer, smtp_address: tuple[str, int], api: httpx.Client, upstream: MailServer
) -> None:
    send_both(smtp_address)
    assert server.addresses is not None
    assert "every call answered" in run(node, "mailpit.mjs", server.addresses.url)
    assert api.get("/api/messages").json()["total"] == 0
    assert released(upstream) == [("Welcome Ann", ["carl@example.com"])]


@pytest.mark.slow
def test_mailhog_client(
    node: str, server: MailServer, smtp_address: tuple[str, int], api: httpx.Client, upstream: MailServer
) -> None:
    send_both(smtp_address)
    assert server.addresses is not None
    http, (relay_host, relay_port) = server.addresses.http, smtp_of(upstream)
    assert "every call answered" in run(
        node, "mailhog.mjs", http.host, str(http.port), relay_host, str(relay_port)
    )
    assert api.get("/api/messages").json()["total"] == 0
    assert released(upstream) == [("Reset your password", ["dora@example.com"])]
