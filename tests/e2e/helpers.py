"""Helpers for the real-socket tests."""

from __future__ import annotations

import contextlib
import shutil
import smtplib
import subprocess
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config


def crlf(raw: bytes) -> bytes:
    """These bytes with every line ending made CRLF, as the corpus README asks before sending."""
    fixed = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return fixed if fixed.endswith(b"\r\n") else fixed + b"\r\n"


def simple_message(
    subject: str = "Hello", to: str = "ann@example.com", body: str = "Hi Ann!\n"
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)  # CRLF line endings, as on the wire
    message["From"] = "App <app@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Thu, 26 Nov 2026 10:00:00 +0000"
    message["Message-ID"] = "<test-1@example.com>"
    message.set_content(body)
    return message


def send(
    address: tuple[str, int],
    raw: bytes,
    sender: str = "app@example.com",
    recipients: tuple[str, ...] = ("ann@example.com",),
) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(*address, timeout=30) as client:
        return client.sendmail(sender, list(recipients), raw)


def reply_of(address: tuple[str, int], raw: bytes) -> tuple[int, bytes]:
    """Send one message and return the DATA reply (code, text)."""
    with smtplib.SMTP(*address, timeout=30) as client:
        client.ehlo("test.example")
        client.mail("app@example.com")
        client.rcpt("ann@example.com")
        return client.data(raw)


@contextlib.contextmanager
def serving(config: Config) -> Iterator[MailServer]:
    """A MailServer with this configuration, for tests that need more than one setup."""
    server = MailServer(config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def session_of(api: httpx.Client, message_id: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """The newest session once it has ended (or the session of a message), with its transcript."""
    if message_id is not None:
        session: dict[str, Any] = api.get(f"/api/messages/{message_id}/session").json()
        return session
    deadline = time.monotonic() + timeout
    while True:
        sessions = api.get("/api/sessions").json()["sessions"]
        if sessions and sessions[0]["ended_at"]:
            latest: dict[str, Any] = sessions[0]
            return latest
        assert time.monotonic() < deadline, f"no ended session within {timeout}s: {sessions}"
        time.sleep(0.02)


def swaks(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["swaks", "--timeout", "30", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


needs_swaks = pytest.mark.skipif(
    shutil.which("swaks") is None, reason="swaks is not installed (apt-get install swaks)"
)
