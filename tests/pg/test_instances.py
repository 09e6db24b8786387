"""Two real mailtrap-lite processes on one PostgreSQL database, as behind a load balancer: what one
takes, the other shows and announces; fault rules fire once across both; a SIGKILL of one loses no
acknowledged message and the other keeps serving. Also the start-up errors of ``--db postgresql://``."""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from websockets.sync.client import connect

from mailtrap_lite.store.postgres_schema import SCHEMA_VERSION
from tests.e2e.test_sqlite_durability import Sender, all_subjects
from tests.pg.cluster import APP_PASSWORD, Cluster
from tests.test_cli import run_cli, stop
from tests.web.test_ws import next_frame


@dataclass
class Instance:
    process: subprocess.Popen[str]
    smtp: tuple[str, int]
    url: str

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/ws"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@contextlib.contextmanager
def instances(
    dsn: str, count: int, *extra: str, env: dict[str, str] | None = None
) -> Iterator[list[Instance]]:
    """Start ``count`` instances on ``dsn`` at the same moment (they race to migrate); kill them after."""
    command = [sys.executable, "-m", "mailtrap_lite", "--db", dsn, "--smtp", "127.0.0.1:0"]
    processes = [
        subprocess.Popen(
            [*command, "--http", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        for _ in range(count)
    ]
    try:
        started = []
        for process in processes:
            assert process.stdout is not None
            banner = ""
            while "web UI" not in banner:
                line = process.stdout.readline()
                assert line, (
                    f"an instance did not start: {banner} {process.stderr.read() if process.stderr else ''}"
                )
                banner += line
            assert APP_PASSWORD not in banner  # the URL is shown without its password
            smtp = re.search(r"SMTP\s+(\S+):(\d+)", banner)
            url = re.search(r"web UI\s+(\S+)", banner)
            assert smtp and url, banner
            started.append(Instance(process, (smtp.group(1), int(smtp.group(2))), url.group(1).rstrip("/")))
        yield started
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)


def send(instance: Instance, subject: str, to: str = "ann@example.com") -> None:
    with smtplib.SMTP(*instance.smtp, timeout=30) as client:
        client.sendmail("app@example.com", [to], f"Subject: {subject}\r\n\r\nbody of {subject}\r\n".encode())


def eventually(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def dsn(pg_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    return pg_cluster.create_database(f"instances_{request.node.name[:40].lower()}".replace("[", "_")[:60])


def test_a_message_taken_by_a_reaches_the_websocket_and_waiters_of_b(dsn: str) -> None:
    with instances(dsn, 2) as (a, b), connect(b.ws) as live, b.api() as api_b, a.api() as api_a:
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(
                api_b.get, "/api/messages/wait", params={"q": "subject:handover", "timeout": 30}
            )
            send(a, "handover")
            frame = next_frame(live, "message.new", timeout=30)
            assert frame["data"]["subject"] == "handover"
            ended = next_frame(live, "session.ended", timeout=30)
            assert ended["data"]["message_ids"] == [frame["data"]["id"]]
            answer = waiting.result(timeout=60)
        assert answer.status_code == 200
        assert [m["subject"] for m in answer.json()["messages"]] == ["handover"]

        # Read flags and deletions are the database's: B shows and announces what A changed.
        message_id = frame["data"]["id"]
        assert api_a.patch(f"/api/messages/{message_id}", json={"read": True}).status_code == 200
        assert next_frame(live, "message.updated", timeout=30)["data"]["read"] is True
        assert api_b.get(f"/api/messages/{message_id}").json()["read"] is True
        assert api_a.delete(f"/api/messages/{message_id}").status_code == 204
        assert next_frame(live, "message.deleted", timeout=30)["data"]["ids"] == [message_id]
        assert api_b.get("/api/messages").json()["total"] == 0


def test_a_fault_rule_added_on_a_fires_on_both_exactly_times_times(dsn: str) -> None:
    with instances(dsn, 2) as (a, b), a.api() as api_a, b.api() as api_b:
        created = api_a.post("/api/faults", json={"stage": "rcpt", "code": 550, "match": "x@*", "times": 3})
        assert created.status_code == 201
        rule_id = created.json()["id"]
        eventually(lambda: [f["id"] for f in api_b.get("/api/faults").json()["faults"]] == [rule_id])

        def rcpt(instance: Instance) -> int:
            with smtplib.SMTP(*instance.smtp, timeout=30) as client:
                client.ehlo("c.example")
                client.mail("app@example.com")
                return client.rcpt("x@example.com")[0]

        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(rcpt, [a, b] * 6))
        assert sorted(codes) == [250] * 9 + [550] * 3
        for api in (api_a, api_b):
            (listed,) = api.get("/api/faults").json()["faults"]
            assert (listed["remaining"], listed["fired"]) == (0, 3)

        # Removed on B: gone on A too.
        assert api_b.delete(f"/api/faults/{rule_id}").status_code == 204
        eventually(lambda: api_a.get("/api/faults").json()["faults"] == [])


def test_a_sigkill_of_one_instance_loses_no_acknowledged_message_and_the_other_serves_on(dsn: str) -> None:
    acked: list[str] = []
    progress = threading.Semaphore(0)
    with instances(dsn, 2) as (a, b):
        senders = [Sender(n, *a.smtp, acked, progress) for n in range(3)]
        for sender in senders:
            sender.start()
        for _ in range(150):
            assert progress.acquire(timeout=60), "the senders stalled"
        a.process.send_signal(signal.SIGKILL)
        a.process.wait(timeout=10)
        for sender in senders:
            sender.join(timeout=60)
            assert not sender.is_alive()
        survived = set(acked)
        subjects = all_subjects(b.url)
        assert survived <= set(subjects), sorted(survived - set(subjects))[:10]
        assert len(subjects) == len(set(subjects))
        send(b, "after the kill")
        with b.api() as api:
            assert api.get("/api/messages/latest").json()["subject"] == "after the kill"
            assert api.get("/readyz").status_code == 200


def test_a_lost_database_answers_451_and_503_until_it_is_back(pg_cluster: Cluster, dsn: str) -> None:
    database = dsn.rsplit("/", 1)[1]
    with instances(dsn, 1) as (a,), a.api() as api:
        send(a, "before")
        pg_cluster.admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        pg_cluster.admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
        )
        try:
            eventually(lambda: api.get("/readyz").status_code == 503)
            assert "the store cannot take messages" in api.get("/readyz").json()["error"]
            with smtplib.SMTP(*a.smtp, timeout=30) as client:
                with pytest.raises(smtplib.SMTPDataError) as refused:
                    client.sendmail("app@example.com", ["ann@example.com"], b"Subject: during\r\n\r\nx\r\n")
                assert refused.value.smtp_code == 451
        finally:
            pg_cluster.admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        eventually(lambda: api.get("/readyz").status_code == 200)
        send(a, "after")
        assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["after", "before"]
        assert stop(a.process) == 0


def test_the_password_comes_from_pgpassword(pg_cluster: Cluster, dsn: str) -> None:
    without = pg_cluster.dsn(dsn.rsplit("/", 1)[1], password=None)
    with instances(without, 1, env={"PGPASSWORD": APP_PASSWORD}) as (a,):
        send(a, "with PGPASSWORD")
        with a.api() as api:
            assert api.get("/api/stats").json()["store"] == "postgresql"


def _one_line_exit_2(*args: str, env: dict[str, str] | None = None) -> str:
    result = run_cli(*args, "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("mailtrap-lite: error:")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_start_up_errors_are_one_line_and_exit_2(pg_cluster: Cluster, dsn: str) -> None:
    database = dsn.rsplit("/", 1)[1]
    wrong = pg_cluster.dsn(database, password="wrong")
    assert "refused the login" in _one_line_exit_2("--db", wrong)
    assert "wrong" not in _one_line_exit_2("--db", wrong).split("refused the login")[0]
    no_password = pg_cluster.dsn(database, password=None)
    assert "refused the login" in _one_line_exit_2("--db", no_password, env={"PGPASSFILE": "/nonexistent"})
    closed = dsn.replace(f":{pg_cluster.port}/", ":1/")
    assert "cannot reach" in _one_line_exit_2("--db", closed)
    missing = pg_cluster.dsn("no_such_database")
    assert "does not exist" in _one_line_exit_2("--db", missing)
    # A newer mailtrap-lite wrote this database.
    with instances(dsn, 1) as (a,), a.api() as api:
        assert api.get("/readyz").status_code == 200
        assert stop(a.process) == 0
    pg_cluster.admin(f"INSERT INTO mailtrap_lite_schema VALUES ({SCHEMA_VERSION + 1})", database)
    assert "newer mailtrap-lite" in _one_line_exit_2("--db", dsn)


def test_stats_count_what_the_database_holds(dsn: str) -> None:
    with instances(dsn, 1) as (a,), a.api() as api:
        send(a, "counted")
        stats = api.get("/api/stats").json()
        assert stats["store"] == "postgresql" and stats["db_size"] > 0
        assert (stats["messages"], stats["unread"], stats["sessions"]) == (1, 1, 1)
        assert stop(a.process) == 0


def test_start_up_fault_rules_are_shared_once(dsn: str) -> None:
    with instances(dsn, 2, "--fault", "rcpt:550:y@*:1") as (a, b), a.api() as api_a:
        (rule,) = api_a.get("/api/faults").json()["faults"]
        assert (rule["stage"], rule["code"], rule["match"], rule["remaining"]) == ("rcpt", 550, "y@*", 1)
        codes = []
        for instance in (b, a):
            with smtplib.SMTP(*instance.smtp, timeout=30) as client:
                client.ehlo("c.example")
                client.mail("app@example.com")
                codes.append(client.rcpt("y@example.com")[0])
        assert codes == [550, 250]


def test_a_webhook_is_posted_once_by_the_instance_that_took_the_message(dsn: str) -> None:
    posted: list[bytes] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver) as receiver:
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        try:
            with instances(dsn, 2, "--webhook", hook) as (a, b), a.api() as api_a, b.api() as api_b:
                with connect(b.ws) as live:
                    send(a, "hooked")
                    assert next_frame(live, "message.new", timeout=30)["data"]["subject"] == "hooked"
                eventually(
                    lambda: (
                        [d["status"] for d in api_a.get("/api/webhooks").json()["deliveries"]]
                        == ["delivered"]
                    )
                )
                # B announced the message (above) but left the webhook to A.
                assert api_b.get("/api/webhooks").json()["deliveries"] == []
        finally:
            receiver.shutdown()
    assert len(posted) == 1 and b'"hooked"' in posted[0]
