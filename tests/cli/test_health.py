"""``status`` and ``readyz`` (compose health checks) and the credentials of a server run with --ui-auth."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import HostPort
from tests.cli.conftest import Run, cli_env, run
from tests.conftest import free_config
from tests.e2e.test_sqlite_faults import wait_until, writer_pid


def test_status_describes_a_ready_server(cli: Run, server: MailServer) -> None:
    result = cli("status")
    assert result.returncode == 0
    assert server.addresses is not None
    assert result.stdout.startswith(f"mailtrap-lite {server.version} at {server.addresses.url}: ready\n")
    assert "store    memory" in result.stdout
    data = json.loads(cli("status", "--json").stdout)
    assert data["ready"] is True and data["stats"]["store"] == "memory"


def test_readyz_once(cli: Run) -> None:
    result = cli("readyz")
    assert (result.returncode, result.stdout) == (0, "ready\n")
    assert json.loads(cli("readyz", "--json").stdout) == {"ready": True, "error": None}


def test_readyz_on_an_unreachable_server_exits_1() -> None:
    result = run("readyz", "--url", "http://127.0.0.1:9")
    assert result.returncode == 1 and "not ready: cannot reach" in result.stderr
    status = run("status", "--url", "http://127.0.0.1:9")
    assert status.returncode == 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_readyz_wait_until_the_server_starts() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [sys.executable, "-m", "mailtrap_lite", "readyz", "--wait", "--timeout", "120", "--url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    ) as waiting:
        try:
            assert waiting.stdout is not None
            server = MailServer(free_config(http=HostPort("127.0.0.1", port)))
            server.start()
            try:
                assert waiting.wait(timeout=120) == 0
                assert waiting.stdout.read() == "ready\n"
            finally:
                server.stop()
        finally:
            if waiting.poll() is None:
                waiting.kill()


def test_readyz_wait_times_out_with_exit_1() -> None:
    result = run("readyz", "--wait", "--timeout", "0.5", "--url", "http://127.0.0.1:9")
    assert result.returncode == 1


def test_a_store_that_cannot_write_is_not_ready(tmp_path: Path) -> None:
    server = MailServer(free_config(db=tmp_path / "box.db"))
    server.start()
    blocker = sqlite3.connect(tmp_path / "box.db", isolation_level=None, timeout=30)
    try:
        assert server.addresses is not None
        url = server.addresses.url
        blocker.execute("BEGIN IMMEDIATE")  # the restarted writer waits for this lock: the outage lasts
        os.kill(writer_pid(server), signal.SIGKILL)
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 503, "/readyz to fail")
        result = run("readyz", "--url", url)
        assert result.returncode == 1 and "not ready: the store cannot take messages" in result.stderr
        status = run("status", "--url", url)
        assert status.returncode == 1 and ": NOT READY (the store cannot take messages" in status.stdout
    finally:
        blocker.close()
        server.stop()


def test_credentials_for_a_server_with_ui_auth() -> None:
    server = MailServer(free_config(ui_auth=("ann", "s3cr:t")))
    server.start()
    try:
        assert server.addresses is not None
        url = server.addresses.url
        refused = run("ls", "--url", url)
        assert refused.returncode == 3 and "401" in refused.stderr
        assert run("ls", "--url", url, "--user", "ann:s3cr:t").returncode == 0
        assert run("ls", env=cli_env(MAILTRAP_LITE_URL=url, MAILTRAP_LITE_USER="ann:s3cr:t")).returncode == 0
        # Inside the server's container its own setting is enough.
        assert (
            run("ls", env=cli_env(MAILTRAP_LITE_URL=url, MAILTRAP_LITE_UI_AUTH="ann:s3cr:t")).returncode == 0
        )
        assert run("ls", "--url", url.replace("://", "://ann:s3cr%3At@")).returncode == 0
        assert run("ls", "--url", url, "--user", "ann:wrong").returncode == 3
        assert run("readyz", "--url", url).returncode == 0  # the health checks stay open
    finally:
        server.stop()


def test_a_server_under_a_base_path(tmp_path: Path) -> None:
    server = MailServer(free_config(base_path="/mail"))
    server.start()
    try:
        assert server.addresses is not None
        url = server.addresses.url
        assert url.endswith("/mail")
        eml = tmp_path / "one.eml"
        eml.write_bytes(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: prefixed\r\n\r\nhi\r\n")
        assert run("import", str(eml), "--url", url).returncode == 0
        listed = run("wait", "subject:prefixed", "--url", url + "/", "--timeout", "10")
        assert listed.returncode == 0 and listed.stdout.rstrip().endswith("prefixed")
        assert run("readyz", "--url", url).returncode == 0
    finally:
        server.stop()
