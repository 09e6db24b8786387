"""The command line, run as a user runs it: in a subprocess."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailtrap_lite import __version__
from mailtrap_lite.config import OPTIONS

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailtrap_lite", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_help_names_every_flag_with_its_variable_and_default() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for option in OPTIONS:
        assert option.flag in text
        assert option.env in text
    assert "default 127.0.0.1:1025" in text
    assert "default None" not in text  # an unset file option says "none", in the user's words


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"mailtrap-lite {__version__}"


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (("--smtp", "nowhere"), {}, "--smtp: expected HOST:PORT"),
        (("--max-messages", "0"), {}, "--max-messages"),
        ((), {"MAILTRAP_LITE_MAX_MESSAGE_SIZE": "huge"}, "MAILTRAP_LITE_MAX_MESSAGE_SIZE"),
        (("--fault", "rcpt:200"), {}, "fault code must be 400-599"),
        (("--tls-cert", "/nonexistent.pem"), {}, "no such file"),
        (("--tag", "welcome"), {}, "--tag: expected NAME=QUERY"),
        (("--tag", "a,b=subject:x"), {}, "--tag: bad tag 'a,b'"),
        ((), {"MAILTRAP_LITE_TAG": "x=nofield:y"}, "MAILTRAP_LITE_TAG: unknown field 'nofield'"),
    ],
)
def test_bad_values_exit_2_with_one_line(args: tuple[str, ...], env: dict[str, str], fragment: str) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("mailtrap-lite: error:")


@contextlib.contextmanager
def running(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """Start the CLI; yields the process, its SMTP address and its UI URL as printed; kills it after."""
    with subprocess.Popen(
        [sys.executable, "-m", "mailtrap_lite", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    ) as process:
        try:
            assert process.stdout is not None
            banner = ""
            deadline = time.monotonic() + 30
            while "web UI" not in banner and time.monotonic() < deadline:
                line = process.stdout.readline()
                if not line:
                    break
                banner += line
            smtp = re.search(r"SMTP\s+(\S+)", banner)
            url = re.search(r"web UI\s+(\S+)", banner)
            assert smtp and url, banner
            yield process, smtp.group(1), url.group(1).rstrip("/")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> int:
    process.send_signal(signum)
    return process.wait(timeout=10)


def test_start_receive_and_stop_on_sigterm() -> None:
    with running("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0") as (process, smtp, url):
        host, port = smtp.rsplit(":", 1)
        with smtplib.SMTP(host, int(port), timeout=30) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: cli\r\n\r\nhi\r\n")
        assert httpx.get(f"{url}/api/messages", timeout=10).json()["messages"][0]["subject"] == "cli"
        with smtplib.SMTP(host, int(port), timeout=30) as held_open:
            held_open.ehlo("x")
            assert stop(process) == 0
            # RFC 5321 §3.8: an open session is told the server is going away.
            code, _ = held_open.getreply()
            assert code == 421


def test_sigint_stops_cleanly() -> None:
    with running("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0") as (process, _, _):
        assert stop(process, signal.SIGINT) == 0


def test_port_in_use_is_a_clear_start_up_error() -> None:
    with running("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0") as (process, smtp, _):
        result = run_cli("--smtp", smtp, "--http", "127.0.0.1:0")
        assert result.returncode == 2
        assert "cannot listen for SMTP" in result.stderr
        assert stop(process) == 0


@pytest.mark.parametrize(("flag", "protocol"), [("--pop3", "POP3"), ("--imaps", "IMAP")])
def test_a_retrieval_port_in_use_is_a_clear_start_up_error(flag: str, protocol: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--tls-self-signed", flag, f"127.0.0.1:{port}"
        )
    assert result.returncode == 2
    assert f"cannot listen for {protocol} on 127.0.0.1:{port}" in result.stderr


def test_dockerfile_install_and_start_commands_work_outside_docker(tmp_path: Path) -> None:
    """Runs the image's ENV and CMD (and its HEALTHCHECK) here, with only the ports made free."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in dockerfile and "USER mailtrap" in dockerfile
    assert re.search(r"^EXPOSE 1025 8025$", dockerfile, re.M)
    env = dict(re.findall(r"(MAILTRAP_LITE_\w+)=(\S+)", dockerfile))
    assert env == {"MAILTRAP_LITE_SMTP": "0.0.0.0:1025", "MAILTRAP_LITE_HTTP": "0.0.0.0:8025"}
    command = re.search(r'^CMD \["([^"]+)"\]$', dockerfile, re.M)
    assert command and command.group(1) == "mailtrap-lite"
    free = {name: value.replace(":1025", ":0").replace(":8025", ":0") for name, value in env.items()}
    with running(env=free) as (process, _, url):
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        assert stop(process) == 0
