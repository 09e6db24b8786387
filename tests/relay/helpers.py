"""Helpers for the relay tests: an upstream mailtrap-lite on loopback, a relaying one, a tiny DNS server."""

from __future__ import annotations

import contextlib
import smtplib
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from dnslib import AAAA, MX, QTYPE, RR, A, DNSRecord
from dnslib import RCODE as DNS_RCODE

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, HostPort, RelayTarget
from tests.conftest import free_config

RAW = (
    b"From: App <app@example.com>\r\n"
    b"To: ann@example.com\r\n"
    b"Subject: Release me\r\n"
    b"Message-ID: <release-1@example.com>\r\n"
    b"\r\n"
    b"Hello Ann.\r\n"
    b".A line that starts with a dot, stuffed on the wire and restored upstream.\r\n"
)


@contextlib.contextmanager
def running(config: Config) -> Iterator[MailServer]:
    server = MailServer(config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def smtp_of(server: MailServer) -> tuple[str, int]:
    assert server.addresses is not None
    return server.addresses.smtp.host, server.addresses.smtp.port


def api_of(server: MailServer) -> httpx.Client:
    assert server.addresses is not None
    return httpx.Client(base_url=server.addresses.url, timeout=60)


def relaying(upstream: MailServer, **changes: Any) -> Config:
    """A config that relays to ``upstream`` in plain SMTP (unless changed)."""
    host, port = smtp_of(upstream)
    settings: dict[str, Any] = {"relay": RelayTarget(host, port), "relay_tls": "none"}
    settings.update(changes)
    return free_config(**settings)


def send(
    server: MailServer,
    raw: bytes = RAW,
    sender: str = "app@example.com",
    recipients: tuple[str, ...] = ("ann@example.com",),
) -> None:
    with smtplib.SMTP(*smtp_of(server), timeout=30) as client:
        client.sendmail(sender, list(recipients), raw)


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll ``check`` until it returns something truthy (a generous timeout: never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def messages(api: httpx.Client, q: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get("/api/messages", params={"q": q}).json()["messages"]
    return found


def latest_id(api: httpx.Client) -> str:
    found: str = wait_until(lambda: messages(api), what="a stored message")[0]["id"]
    return found


class DNSServer:
    """A tiny authoritative DNS server on loopback UDP: answers from ``records``, NXDOMAIN for names it
    does not know. ``records`` maps (name, type) to a list of rdata objects (dnslib's MX, A, AAAA)."""

    def __init__(self, records: dict[tuple[str, str], list[Any]]) -> None:
        self.records = records
        self.known = {name for name, _ in records}
        self.queries: list[tuple[str, str]] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                request = DNSRecord.parse(data)
                name = str(request.q.qname).rstrip(".").lower()
                kind = QTYPE[request.q.qtype]
                owner.queries.append((name, kind))
                reply = request.reply()
                if name not in owner.known:
                    reply.header.rcode = DNS_RCODE.NXDOMAIN
                for rdata in owner.records.get((name, kind), []):
                    reply.add_answer(RR(name, request.q.qtype, rdata=rdata, ttl=60))
                sock.sendto(reply.pack(), self.client_address)

        self._server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Handler)
        self.address = HostPort("127.0.0.1", self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> DNSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


__all__ = ["AAAA", "MX", "A", "DNSServer"]
