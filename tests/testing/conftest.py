"""Fixtures for testing the testing API: a Mailbox over either backend, and pytester runs of the plugin."""

from __future__ import annotations

import importlib.metadata
import os
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.client import MailtrapClient
from mailtrap_lite.testing.backend import Backend
from mailtrap_lite.testing.mailbox import Mailbox
from mailtrap_lite.testing.server import MailtrapServer
from mailtrap_lite.testing.thread import LocalBackend

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "mailtrap_lite.testing.plugin"


def plugin_args() -> list[str]:
    """``-p`` for the plugin unless the installed entry point loads it already (twice is an error)."""
    installed = importlib.metadata.entry_points(group="pytest11")
    return [] if any(ep.value == PLUGIN for ep in installed) else ["-p", PLUGIN]


@pytest.fixture
def subprocess_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a pytester subprocess (and its xdist workers) import this checkout when it is not installed."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))


@pytest.fixture(params=["in-process", "http"])
def backend(request: pytest.FixtureRequest, server: MailServer) -> Backend:
    """The same server reached both ways: every test using it checks that the two behave alike."""
    if request.param == "http":
        assert server.addresses is not None
        return MailtrapClient(server.addresses.url)
    return LocalBackend(server)


@pytest.fixture
def mailbox(server: MailServer, backend: Backend) -> Iterator[Mailbox]:
    assert server.addresses is not None
    smtp = server.addresses.smtp
    box = MailtrapServer(
        smtp.host, smtp.port, backend.url, backend, timeout=5.0, mail_server=server
    ).mailbox()
    box.reset()
    yield box


def email(
    subject: str = "Welcome",
    to: str = "ann@example.com",
    text: str = "Hi Ann! Verify at https://example.com/verify/abc123.\n",
    html: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attachment is not None:
        name, content = attachment
        message.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    return message


def send(box: Mailbox, message: EmailMessage, *recipients: str) -> None:
    with smtplib.SMTP(box.host, box.port, timeout=30) as client:
        client.send_message(message, to_addrs=list(recipients) or None)
