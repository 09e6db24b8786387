"""Six clients download the attachment of a ~50 MB message at once: right bytes, bounded memory."""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.conftest import free_config

CLIENTS = 6
ATTACHMENT_BYTES = 36 * 1024 * 1024  # about 50 MB once base64-encoded
STATUS = Path("/proc/self/status")


@pytest.fixture
def server_config() -> Config:
    return free_config(max_message_size=64 * 1024 * 1024)


def peak_rss() -> int:
    """The process's peak resident set size (VmHWM) in bytes; the server runs in this process."""
    found = re.search(r"^VmHWM:\s+(\d+) kB$", STATUS.read_text(), re.MULTILINE)
    assert found is not None
    return int(found.group(1)) * 1024


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from the current RSS


def download_digest(url: str, path: str) -> str:
    digest = hashlib.sha256()
    with httpx.Client(base_url=url, timeout=300) as client, client.stream("GET", path) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
def test_six_concurrent_downloads_of_a_large_part_are_identical_and_memory_stays_bounded(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    attachment = os.urandom(ATTACHMENT_BYTES)
    expected = hashlib.sha256(attachment).hexdigest()
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "ann@example.com"
    message["Subject"] = "large"
    message.set_content("See the attachment.\n")
    message.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="big.bin")
    raw = message.as_bytes().replace(b"\n", b"\r\n")
    del message, attachment
    with smtplib.SMTP(*smtp_address, timeout=300) as client:
        client.sendmail("app@example.com", ["ann@example.com"], raw)
    size = len(raw)
    del raw
    summary = api.get("/api/messages").json()["messages"][0]
    assert summary["subject"] == "large"
    path = f"/api/messages/{summary['id']}/parts/2"
    assert server.addresses is not None

    reset_peak_rss()
    before = peak_rss()
    with ThreadPoolExecutor(CLIENTS) as pool:
        digests = list(pool.map(lambda _: download_digest(server.addresses.url, path), range(CLIENTS)))
    growth = peak_rss() - before

    assert digests == [expected] * CLIENTS
    # One stdlib parse costs several times the message's size, six at once tens of times (see
    # benchmarks/README.md): the bound allows the one parse and nothing per client.
    assert growth < 10 * size, f"peak RSS grew by {growth / size:.1f}x the message size"
