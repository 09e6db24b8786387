"""``sendmail``: what PHP's mail(), cron and git send-email pass it, over real SMTP to a real server, and the
session that records it; as ``mailtrap-lite sendmail`` and through a symlink named sendmail."""

from __future__ import annotations

import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.cli.conftest import ROOT, cli_env, run_bytes

MESSAGE = (
    b"From: App <app@example.com>\n"
    b"To: Ann <ann@example.com>\n"
    b"Cc: carl@example.com\n"
    b"Bcc: boss@example.com,\n"
    b"  audit@example.com\n"
    b"Subject: Cron report\n"
    b"\n"
    b"All good.\n"
    b".\n"
    b"After the dot.\n"
)


@pytest.fixture
def smtp_env(server: MailServer) -> dict[str, str]:
    assert server.addresses is not None
    return cli_env(MAILTRAP_LITE_SMTP=str(server.addresses.smtp))


def sendmail(env: dict[str, str], *args: str, stdin: bytes = MESSAGE) -> subprocess.CompletedProcess[bytes]:
    return run_bytes("sendmail", *args, stdin=stdin, env=env)


def latest(api: httpx.Client) -> dict[str, Any]:
    result: dict[str, Any] = api.get("/api/messages/latest").json()
    return result


def raw(api: httpx.Client) -> bytes:
    return api.get("/api/messages/latest/raw").content


def test_t_takes_recipients_from_the_headers_and_removes_bcc(
    smtp_env: dict[str, str], api: httpx.Client
) -> None:
    result = sendmail(smtp_env, "-t", "-i")
    assert result.returncode == 0, result.stderr
    message = latest(api)
    envelope = message["envelope"]
    assert envelope["mail_from"] == "app@example.com"  # no -f: the From header's address
    assert [r["address"] for r in envelope["recipients"]] == [
        "ann@example.com",
        "carl@example.com",
        "boss@example.com",
        "audit@example.com",
    ]
    body = raw(api)
    assert b"Bcc" not in body and b"audit" not in body  # the header and its continuation line are gone
    # -i: the lone dot is content; lines end with CRLF on the wire
    assert body.endswith(b"All good.\r\n.\r\nAfter the dot.\r\n")
    session = api.get(f"/api/sessions/{message['session_id']}").json()
    assert session["protocol"] == "smtp"
    lines = [line["line"].lower() for line in session["transcript"]]
    assert any(line.startswith("mail from:<app@example.com>") for line in lines)


def test_arguments_name_the_recipients_and_a_lone_dot_ends_the_message(
    smtp_env: dict[str, str], api: httpx.Client
) -> None:
    result = sendmail(smtp_env, "-f", "bounces@example.com", "zed@example.com")
    assert result.returncode == 0, result.stderr
    envelope = latest(api)["envelope"]
    assert envelope["mail_from"] == "bounces@example.com"
    assert [r["address"] for r in envelope["recipients"]] == ["zed@example.com"]  # no -t: headers ignored
    assert raw(api).endswith(b"All good.\r\n")  # without -i the "." line ended it
    assert b"Bcc: boss@example.com" in raw(api)  # without -t nothing is removed


def test_attached_option_values_and_ignored_options(smtp_env: dict[str, str], api: httpx.Client) -> None:
    """git send-email passes -i and recipients; PHP -t -i; others -oi, -odi, -F name, -fsender."""
    args = ("-oi", "-odi", "-oem", "-F", "The App", "-B8BITMIME", "-v", "-fsender@example.com", "--")
    result = sendmail(smtp_env, *args, "-dash@example.com")
    assert result.returncode == 0, result.stderr
    envelope = latest(api)["envelope"]
    assert envelope["mail_from"] == "sender@example.com"
    assert [r["address"] for r in envelope["recipients"]] == ["-dash@example.com"]


def test_eight_bit_and_utf8_addresses(smtp_env: dict[str, str], api: httpx.Client) -> None:
    message = "From: zoë@example.com\nTo: jürgen@example.com\nSubject: Grüße\n\nHallo Jürgen\n".encode()
    result = sendmail(smtp_env, "-t", stdin=message)
    assert result.returncode == 0, result.stderr
    summary = latest(api)
    assert summary["subject"] == "Grüße"
    assert {"BODY=8BITMIME", "SMTPUTF8"} <= set(summary["envelope"]["mail_options"])


def test_a_symlink_named_sendmail_runs_it(
    smtp_env: dict[str, str], api: httpx.Client, tmp_path: Path
) -> None:
    script = tmp_path / "mailtrap-lite"
    script.write_text(f"#!{sys.executable}\nfrom mailtrap_lite.cli import main\nraise SystemExit(main())\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    link = tmp_path / "sendmail"
    link.symlink_to(script)
    result = subprocess.run(
        [str(link), "-t", "-i"], input=MESSAGE, capture_output=True, env=smtp_env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert latest(api)["subject"] == "Cron report"
    # The same script under its own name still serves (and so answers --version).
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=smtp_env, check=True
    )
    assert version.stdout.startswith("mailtrap-lite ")


def test_a_refused_recipient_exits_67(smtp_env: dict[str, str], api: httpx.Client) -> None:
    rule = {"stage": "rcpt", "code": 550, "match": "carl@*"}
    assert api.post("/api/faults", json=rule).status_code == 201
    result = sendmail(smtp_env, "-t", "-i")
    assert result.returncode == 67
    assert b"carl@example.com: 550" in result.stderr
    assert [r["address"] for r in latest(api)["envelope"]["recipients"] if r["code"] == 250] == [
        "ann@example.com",
        "boss@example.com",
        "audit@example.com",
    ]


@pytest.mark.parametrize(("code", "exit_code"), [(451, 75), (554, 69)])
def test_a_refused_message_exits_with_sendmails_codes(
    smtp_env: dict[str, str], api: httpx.Client, code: int, exit_code: int
) -> None:
    assert api.post("/api/faults", json={"stage": "data", "code": code}).status_code == 201
    result = sendmail(smtp_env, "-t", "-i")
    assert result.returncode == exit_code
    assert f"the server answered {code}".encode() in result.stderr
    assert api.get("/api/messages").json()["total"] == 0


def test_an_unreachable_server_is_a_temporary_failure() -> None:
    result = sendmail(cli_env(), "--smtp", "127.0.0.1:9", "ann@example.com")
    assert result.returncode == 75
    assert b"cannot send through 127.0.0.1:9" in result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "fragment"),
    [
        ((), MESSAGE, 64, b"no recipients"),
        (("-bs",), MESSAGE, 64, b"-bs is not supported"),
        (("-f",), MESSAGE, 64, b"-f needs a value"),
        (("--smtp", "nowhere", "a@example.com"), MESSAGE, 64, b"expected HOST:PORT"),
        (("--frobnicate",), MESSAGE, 64, b"unknown option --frobnicate"),
        (("a@example.com",), b"", 65, b"no message on standard input"),
    ],
)
def test_bad_usage_exits_64(args: tuple[str, ...], stdin: bytes, exit_code: int, fragment: bytes) -> None:
    result = sendmail(cli_env(), *args, stdin=stdin)
    assert result.returncode == exit_code
    assert fragment in result.stderr


def test_help() -> None:
    result = sendmail(cli_env(), "--help")
    assert result.returncode == 0 and b"usage: sendmail" in result.stdout


def test_the_sendmail_console_script(smtp_env: dict[str, str], api: httpx.Client) -> None:
    """pyproject's ``mailtrap-lite-sendmail`` script, called the way its generated wrapper calls it."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["mailtrap-lite-sendmail"].partition(":")
    wrapper = f"import sys, {module} as m; sys.argv[0] = 'mailtrap-lite-sendmail'; sys.exit(m.{function}())"
    result = subprocess.run(
        [sys.executable, "-c", wrapper, "-t", "-i"],
        input=MESSAGE,
        capture_output=True,
        env=smtp_env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert latest(api)["subject"] == "Cron report"
