"""Programs nobody here wrote hand mail to ``mailtrap-lite sendmail``: PHP's mail() through sendmail_path
and git send-email through --sendmail-cmd, as their users configure them."""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.cli.conftest import cli_env


@pytest.fixture
def command(server: MailServer, tmp_path: Path) -> str:
    """``mailtrap-lite sendmail --smtp HOST:PORT`` as a shell command, through a launcher like the one pip
    installs."""
    assert server.addresses is not None
    script = tmp_path / "mailtrap-lite"
    script.write_text(f"#!{sys.executable}\nfrom mailtrap_lite.cli import main\nraise SystemExit(main())\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return f"{shlex.quote(str(script))} sendmail --smtp {server.addresses.smtp}"


def latest(api: httpx.Client) -> dict[str, Any]:
    found: dict[str, Any] = api.get("/api/messages/latest").json()
    return found


@pytest.mark.skipif(shutil.which("php") is None, reason="PHP is not installed (apt-get install php-cli)")
def test_php_mail_through_sendmail_path(command: str, api: httpx.Client) -> None:
    code = (
        'mail("ann@example.com", "Hello from PHP", "Line one\\n.\\nLine three", '
        '"From: App <app@example.com>\\r\\nBcc: boss@example.com") or exit(1);'
    )
    result = subprocess.run(
        ["php", "-d", f"sendmail_path={command} -t -i", "-r", code],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    message = latest(api)
    assert message["subject"] == "Hello from PHP"
    assert message["envelope"]["mail_from"] == "app@example.com"
    assert [r["address"] for r in message["envelope"]["recipients"]] == [
        "ann@example.com",
        "boss@example.com",
    ]
    assert [b["address"] for b in message["bcc"]] == ["boss@example.com"]  # known from the envelope only
    raw = api.get("/api/messages/latest/raw").content
    assert b"Bcc:" not in raw and raw.endswith(b"Line one\r\n.\r\nLine three\r\n")


def git_send_email_installed() -> bool:
    if shutil.which("git") is None:
        return False
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout
    return (Path(exec_path.strip()) / "git-send-email").exists()


GIT_EMAIL = git_send_email_installed()


@pytest.mark.skipif(not GIT_EMAIL, reason="git send-email is not installed (apt-get install git-email)")
def test_git_send_email_through_sendmail_cmd(command: str, api: httpx.Client, tmp_path: Path) -> None:
    repository = tmp_path / "repo"

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
            cwd=repository,
            capture_output=True,
            text=True,
            env=cli_env(GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path)),
            timeout=60,
            check=False,
        )

    repository.mkdir()
    assert git("init", "-q").returncode == 0
    (repository / "README").write_text("hello\n")
    git("add", "README")
    assert git("commit", "-q", "-m", "Add a README").returncode == 0
    sent = git(
        "send-email",
        "--to=maintainer@example.com",
        "--cc=list@example.com",
        "--from=Dev <dev@example.com>",
        "--confirm=never",
        "--no-chain-reply-to",
        "--suppress-cc=all",  # else git copies the author too
        f"--sendmail-cmd={command}",
        "-1",
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    message = latest(api)
    assert message["subject"] == "[PATCH] Add a README"
    assert message["envelope"]["mail_from"] == "dev@example.com"
    assert sorted(r["address"] for r in message["envelope"]["recipients"]) == [
        "list@example.com",
        "maintainer@example.com",
    ]
    assert "+hello" in api.get("/api/messages/latest").json()["text"]
