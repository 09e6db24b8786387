"""Reads of large messages: six concurrent downloads of a 50 MB message's attachment, and the HTML view of a
45 MB HTML body, against an in-process server (memory store); then six concurrent raw downloads of a 50 MB
message from the SQLite store, streamed from the database and, for comparison, read whole. Prints time and
peak RSS growth.

    PYTHONPATH=. python benchmarks/large_reads.py
"""

from __future__ import annotations

import os
import re
import smtplib
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import httpx

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, HostPort
from mailtrap_lite.store import sqlite

CLIENTS = 6
STATUS = Path("/proc/self/status")


def peak_rss() -> int:
    found = re.search(r"^VmHWM:\s+(\d+) kB$", STATUS.read_text(), re.MULTILINE)
    assert found is not None
    return int(found.group(1)) * 1024


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def send(address: tuple[str, int], message: EmailMessage) -> int:
    raw = message.as_bytes().replace(b"\n", b"\r\n")
    with smtplib.SMTP(*address, timeout=600) as client:
        client.sendmail("app@example.com", ["ann@example.com"], raw)
    return len(raw)


def drain(url: str, path: str) -> int:
    total = 0
    with httpx.Client(base_url=url, timeout=600) as client, client.stream("GET", path) as response:
        for chunk in response.iter_bytes():
            total += len(chunk)
    return total


def main() -> None:
    config = Config(
        smtp=HostPort("127.0.0.1", 0), http=HostPort("127.0.0.1", 0), quiet=True, max_message_size=64 << 20
    )
    server = MailServer(config)
    server.start()
    try:
        assert server.addresses is not None
        url = server.addresses.url
        smtp = (server.addresses.smtp.host, server.addresses.smtp.port)
        api = httpx.Client(base_url=url, timeout=600)

        message = EmailMessage()
        message["Subject"] = "attachment"
        message.set_content("See the attachment.\n")
        message.add_attachment(os.urandom(36 << 20), maintype="application", subtype="octet-stream")
        size = send(smtp, message)
        del message
        message_id = api.get("/api/messages").json()["messages"][0]["id"]
        for round_ in ("first", "second"):
            reset_peak_rss()
            before, start = peak_rss(), time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(lambda _: drain(url, f"/api/messages/{message_id}/parts/2"), range(CLIENTS)))
            elapsed = time.perf_counter() - start
            growth = peak_rss() - before
            print(
                f"{CLIENTS} downloads of a {size / 1e6:.0f} MB message's attachment ({round_} round): "
                f"{elapsed:.1f} s, peak RSS +{growth / 1e6:.0f} MB ({growth / size:.1f}x the message)"
            )

        html = EmailMessage()
        html["Subject"] = "html"
        cell = '<tr><td style="color:red">cell</td><td><a href="https://example.com/x">link</a></td></tr>\n'
        rows = cell * (45_000_000 // len(cell))
        body = f"<html><head></head><body><table>{rows}</table></body></html>"
        html.set_content(body, subtype="html", cte="quoted-printable")
        size = send(smtp, html)
        del html, body, rows
        message_id = api.get("/api/messages").json()["messages"][0]["id"]
        for round_ in ("first", "second"):
            start = time.perf_counter()
            response = api.get(f"/api/messages/{message_id}/html")
            assert response.status_code == 200
            print(
                f"HTML view of a {size / 1e6:.0f} MB HTML message ({round_} view): "
                f"{time.perf_counter() - start:.1f} s"
            )
    finally:
        server.stop()
    sqlite_raw_downloads(config)


def sqlite_raw_downloads(config: Config) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = MailServer(config.replace(db=Path(directory) / "large.db"))
        server.start()
        try:
            assert server.addresses is not None
            url = server.addresses.url
            message = EmailMessage()
            message["Subject"] = "raw"
            message.set_content("See the attachment.\n")
            message.add_attachment(os.urandom(36 << 20), maintype="application", subtype="octet-stream")
            size = send((server.addresses.smtp.host, server.addresses.smtp.port), message)
            del message
            message_id = httpx.get(f"{url}/api/messages", timeout=60).json()["messages"][0]["id"]
            streams = sqlite.MAX_BLOB_STREAMS
            for how, limit in (("streamed from the database", streams), ("read whole", 0)):
                sqlite.MAX_BLOB_STREAMS = limit
                reset_peak_rss()
                before, start = peak_rss(), time.perf_counter()
                with ThreadPoolExecutor(CLIENTS) as pool:
                    sizes = list(
                        pool.map(lambda _: drain(url, f"/api/messages/{message_id}/raw"), range(CLIENTS))
                    )
                assert sizes == [size] * CLIENTS
                growth = peak_rss() - before
                print(
                    f"{CLIENTS} raw downloads of a {size / 1e6:.0f} MB message with --db ({how}): "
                    f"{time.perf_counter() - start:.1f} s, peak RSS +{growth / 1e6:.0f} MB "
                    f"({growth / size:.1f}x the message)"
                )
            sqlite.MAX_BLOB_STREAMS = streams
        finally:
            server.stop()


if __name__ == "__main__":
    main()
