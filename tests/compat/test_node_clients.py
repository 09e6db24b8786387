"""The npm clients of Mailpit (``mailpit-api``) and MailHog (``mailhog``), unmodified, against a real
server holding mail sent over SMTP: the scripts in node/ call list, search, read, tag, read-status and
delete and assert each answer with node:assert."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.compat.mail import send_both

NODE_DIR = Path(__file__).resolve().parent / "node"


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
    node: str, server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send_both(smtp_address)
    assert server.addresses is not None
    assert "every call answered" in run(node, "mailpit.mjs", server.addresses.url)
    assert api.get("/api/messages").json()["total"] == 0


@pytest.mark.slow
def test_mailhog_client(
    node: str, server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send_both(smtp_address)
    assert server.addresses is not None
    http = server.addresses.http
    assert "every call answered" in run(node, "mailhog.mjs", http.host, str(http.port))
    assert api.get("/api/messages").json()["total"] == 0
