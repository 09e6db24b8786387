"""``--db`` as a user runs it: every message answered 250 survives a SIGKILL; bad databases exit 2."""

from __future__ import annotations

import signal
import smtplib
import threading
from pathlib import Path

import httpx
import pytest

from tests.test_cli import run_cli, running, stop

SENDERS = 4
KILL_AFTER = 300  # acknowledged messages; more keep arriving while the kill lands
MAX_PER_SENDER = 5000


class Sender(threading.Thread):
    """Sends numbered messages over one connection until the server vanishes; records what got 250."""

    def __init__(self, number: int, host: str, port: int, acked: list[str], progress: threading.Semaphore):
        super().__init__(name=f"sender-{number}", daemon=True)
        self.number, self.host, self.port = number, host, port
        self.acked, self.progress = acked, progress
        self.attempted: list[str] = []

    def run(self) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as client:
                client.ehlo("sender.example")
                for i in range(MAX_PER_SENDER):
                    token = f"tok-{self.number}-{i}"
                    self.attempted.append(token)
                    client.mail("app@example.com")
                    client.rcpt("ann@example.com")
                    code, _ = client.data(f"Subject: {token}\r\n\r\nbody of {token}\r\n".encode())
                    if code != 250:
                        return
                    self.acked.append(token)
                    self.progress.release()
        except (OSError, smtplib.SMTPException):
            return  # the server was killed mid-conversation: what was not answered 250 may be lost


def all_subjects(url: str) -> list[str]:
    subjects: list[str] = []
    with httpx.Client(base_url=url, timeout=30) as api:
        while True:
            page = api.get("/api/messages", params={"limit": 1000, "offset": len(subjects)}).json()
            subjects += [m["subject"] for m in page["messages"]]
            if not page["messages"]:
                return subjects


@pytest.mark.slow
def test_every_acknowledged_message_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "box.db"
    args = ("--db", str(db), "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0")
    acked: list[str] = []
    progress = threading.Semaphore(0)
    with running(*args) as (process, smtp, _):
        host, port = smtp.rsplit(":", 1)
        senders = [Sender(n, host, int(port), acked, progress) for n in range(SENDERS)]
        for sender in senders:
            sender.start()
        for _ in range(KILL_AFTER):
            assert progress.acquire(timeout=60), "the senders stalled"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        for sender in senders:
            sender.join(timeout=60)
            assert not sender.is_alive()
    survived = set(acked)  # acknowledged before the kill, as the senders saw it
    assert len(survived) >= KILL_AFTER

    with running(*args) as (process, _, url):
        subjects = all_subjects(url)
        assert survived <= set(subjects), sorted(survived - set(subjects))[:10]
        assert len(subjects) == len(set(subjects))
        assert set(subjects) <= {token for sender in senders for token in sender.attempted}
        with httpx.Client(base_url=url, timeout=30) as api:
            latest = api.get("/api/messages/latest/session").json()
            print(latest["transcript"][:5], len(latest["transcript"]), latest.get("transcript_truncated"))
            assert any(
                line["line"].lower().startswith("ehlo sender.example") for line in latest["transcript"]
            )
        assert stop(process) == 0


def test_messages_and_sessions_survive_a_clean_restart(tmp_path: Path) -> None:
    args = ("--db", str(tmp_path / "box.db"), "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0")
    with running(*args) as (process, smtp, _):
        host, port = smtp.rsplit(":", 1)
        with smtplib.SMTP(host, int(port), timeout=30) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: kept\r\n\r\nstill here\r\n")
        assert stop(process) == 0
    with running(*args) as (process, _, url):
        with httpx.Client(base_url=url, timeout=30) as api:
            assert api.get("/api/messages", params={"q": '"still here"'}).json()["total"] == 1
            assert api.get("/api/sessions").json()["total"] == 1
            stats = api.get("/api/stats").json()
            assert stats["store"] == "sqlite" and stats["messages"] == 1 and stats["db_size"] > 0
        assert stop(process) == 0


@pytest.mark.parametrize(
    ("where", "content", "fragment"),
    [
        ("box.db", b"not sqlite " * 500, "is not a usable SQLite database"),
        ("missing/box.db", None, "does not exist"),
    ],
)
def test_a_bad_database_exits_2_with_one_line(
    tmp_path: Path, where: str, content: bytes | None, fragment: str
) -> None:
    path = tmp_path / where
    if content is not None:
        path.write_bytes(content)
    result = run_cli("--db", str(path), "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0")
    assert result.returncode == 2
    assert result.stderr.startswith("mailtrap-lite: error:") and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if content is not None:
        assert path.read_bytes() == content
