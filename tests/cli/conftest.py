"""The CLI run as a user runs it, a subprocess, against a real server running in this process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from mailtrap_lite.app import MailServer

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
# Settings of the developer's shell that would point the CLI elsewhere.
FOREIGN = ("MAILTRAP_LITE_URL", "MAILTRAP_LITE_USER", "MAILTRAP_LITE_UI_AUTH", "MAILTRAP_LITE_SMTP")

Run = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailtrap_lite", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or cli_env(),
        check=False,
    )


def run_bytes(*args: str, stdin: bytes = b"", env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """``run`` for commands whose input or output is a message's bytes."""
    return subprocess.run(
        [sys.executable, "-m", "mailtrap_lite", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def env(server: MailServer) -> dict[str, str]:
    """The environment of a CLI pointed at the test server through MAILTRAP_LITE_URL."""
    assert server.addresses is not None
    return cli_env(MAILTRAP_LITE_URL=server.addresses.url)


@pytest.fixture
def cli(env: dict[str, str]) -> Run:
    """Runs ``mailtrap-lite ARGS`` against the test server."""

    def invoke(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(*args, stdin=stdin, env=env)

    return invoke


def message(subject: str, to: str = "ann@example.com", body: str = "Hi Ann!\n") -> bytes:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = "App <app@example.com>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    return mail.as_bytes()
