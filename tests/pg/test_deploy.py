"""docs/deploy.md's set-up, run here: deploy/haproxy.cfg (as compose.yaml mounts it) in front of two
instances on one PostgreSQL database, SMTP and websocket through the balancer."""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.pg.cluster import Cluster
from tests.pg.test_instances import eventually, instances
from tests.web.test_ws import next_frame

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_compose_names_the_config_it_mounts_and_builds_the_driver_in() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg" in compose
    assert 'EXTRAS: "[postgres]"' in compose and 'ARG EXTRAS=""' in (ROOT / "Dockerfile").read_text()
    assert "MAILTRAP_LITE_DB: postgresql://" in compose
    for server in ("mailtrap-a", "mailtrap-b"):
        assert f"\n  {server}:" in compose
        assert f"{server}:1025" in (ROOT / "deploy" / "haproxy.cfg").read_text()


def test_haproxy_balances_smtp_and_carries_the_websocket(pg_cluster: Cluster, tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None
    )
    if haproxy is None:
        if os.environ.get("CI") == "true":
            pytest.fail("haproxy is not installed (.ci/run installs it)")
        pytest.skip("haproxy is not installed")
    dsn = pg_cluster.create_database("deploy")
    smtp_port, http_port = _free_port(), _free_port()
    with instances(dsn, 2) as (a, b):
        config = (ROOT / "deploy" / "haproxy.cfg").read_text()
        config = config.replace("bind :1025", f"bind 127.0.0.1:{smtp_port}")
        config = config.replace("bind :8025", f"bind 127.0.0.1:{http_port}")
        for name, instance in (("a", a), ("b", b)):
            http = instance.url.removeprefix("http://")
            config = config.replace(
                f"mailtrap-{name}:1025 check port 8025",
                f"{instance.smtp[0]}:{instance.smtp[1]} check port {http.rsplit(':', 1)[1]}",
            )
            config = config.replace(f"mailtrap-{name}:8025", http)
        assert "mailtrap-" not in re.sub(r"^\s*#.*$", "", config, flags=re.M)
        (tmp_path / "haproxy.cfg").write_text(config)
        with subprocess.Popen(
            [haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ) as balancer:
            try:
                url = f"http://127.0.0.1:{http_port}"
                eventually(lambda: _answers(f"{url}/readyz"))
                with connect(f"ws://127.0.0.1:{http_port}/api/ws") as live:
                    for n in range(6):
                        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
                            client.sendmail(
                                "app@example.com",
                                ["ann@example.com"],
                                f"Subject: lb {n}\r\n\r\nx\r\n".encode(),
                            )
                    subjects = {
                        next_frame(live, "message.new", timeout=30)["data"]["subject"] for _ in range(6)
                    }
                assert subjects == {f"lb {n}" for n in range(6)}
                received = [
                    httpx.get(f"{i.url}/api/stats", timeout=10).json()["received_total"] for i in (a, b)
                ]
                assert sum(received) == 6 and min(received) > 0, received  # both instances took mail
                assert httpx.get(f"{url}/api/messages", timeout=10).json()["total"] == 6
            finally:
                balancer.terminate()
                balancer.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
