"""The POP3 listeners from the command line and the environment, run as a user runs them."""

from __future__ import annotations

import os
import poplib
import re
import smtplib
import subprocess
import sys
import time

import pytest

from tests.test_cli import run_cli, stop

LOOPBACK_ANY = "127.0.0.1:0"


def banner_of(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    banner = ""
    deadline = time.monotonic() + 30
    while "web UI" not in banner and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner += line
    return banner


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_banner_names_the_pop3_address_and_it_serves(how: str) -> None:
    args = ["--smtp", LOOPBACK_ANY, "--http", LOOPBACK_ANY, "--tls-self-signed"]
    env = dict(os.environ)
    if how == "flag":
        args += ["--pop3", LOOPBACK_ANY, "--pop3s", LOOPBACK_ANY]
    else:
        env |= {"MAILTRAP_LITE_POP3": LOOPBACK_ANY, "MAILTRAP_LITE_POP3S": LOOPBACK_ANY}
    command = [sys.executable, "-m", "mailtrap_lite", *args]
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdout=pipe, stderr=pipe, text=True, env=env) as process:
        try:
            banner = banner_of(process)
            smtp = re.search(r"SMTP\s+127\.0\.0\.1:(\d+)", banner)
            pop3 = re.search(r"POP3\s+127\.0\.0\.1:(\d+) \(username = mailbox\)", banner)
            assert smtp and pop3 and re.search(r"POP3S\s+127\.0\.0\.1:\d+", banner), banner
            with smtplib.SMTP("127.0.0.1", int(smtp.group(1)), timeout=30) as client:
                client.sendmail("a@example.com", ["b@example.com"], b"Subject: cli\r\n\r\nhi\r\n")
            reader = poplib.POP3("127.0.0.1", int(pop3.group(1)), timeout=30)
            reader.user("default")
            reader.pass_("x")
            assert reader.stat()[0] == 1
            reader.quit()
            assert stop(process) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_bad_pop3_settings_exit_2_with_one_line() -> None:
    bad = run_cli("--pop3", "nowhere")
    assert bad.returncode == 2 and "--pop3: expected HOST:PORT" in bad.stderr
    no_tls = run_cli("--pop3s", LOOPBACK_ANY, env={"MAILTRAP_LITE_SMTP": LOOPBACK_ANY})
    assert no_tls.returncode == 2
    assert no_tls.stderr.strip() == (
        "mailtrap-lite: error: --pop3s needs TLS material: --tls-cert/--tls-key or --tls-self-signed"
    )
