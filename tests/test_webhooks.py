"""Webhooks against a real HTTP receiver on loopback, with mail sent over real SMTP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import build_config
from mailtrap_lite.errors import ConfigError
from mailtrap_lite.events import Event, EventHub
from mailtrap_lite.webhooks import WebhookDispatcher, WebhookSettings
from tests.conftest import free_config
from tests.e2e.helpers import simple_message


@dataclass
class Receiver:
    """An HTTP server that records every POST and answers with the next status of ``answers`` (then 200)."""

    answers: list[int] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self.gate.set()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            made.gate.wait(timeout=30)
            made.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = made.answers.pop(0) if made.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    made.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.gate.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def running(request: pytest.FixtureRequest) -> Iterator[Callable[..., MailServer]]:
    started: list[MailServer] = []

    def start(**changes: object) -> MailServer:
        server = MailServer(free_config(**changes))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def send(server: MailServer, subject: str) -> None:
    assert server.addresses is not None
    with smtplib.SMTP(server.addresses.smtp.host, server.addresses.smtp.port, timeout=30) as client:
        client.sendmail("app@example.com", ["ann@example.com"], simple_message(subject=subject).as_bytes())


def webhooks(server: MailServer) -> dict[str, Any]:
    assert server.addresses is not None
    status: dict[str, Any] = httpx.get(f"{server.addresses.url}/api/webhooks", timeout=10).json()
    return status


def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_each_new_message_is_posted_and_signed(
    running: Callable[..., MailServer], receiver: Receiver, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    server = running(webhook=(receiver.url,), webhook_secret_file=secret)
    send(server, "Welcome")
    eventually(lambda: len(receiver.received) == 1)
    headers, body = receiver.received[0]
    payload = json.loads(body)
    assert payload["event"] == "message.new"
    assert payload["message"]["subject"] == "Welcome"
    expected = hmac.new(b"s3cret", headers["x-mailtrap-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["x-mailtrap-signature"] == "sha256=" + expected.hexdigest()
    assert headers["content-type"] == "application/json"
    eventually(lambda: webhooks(server)["deliveries"][0]["status"] == "delivered")
    delivery = webhooks(server)["deliveries"][0]
    assert (delivery["url"], delivery["message_id"], delivery["attempts"], delivery["code"]) == (
        receiver.url,
        payload["message"]["id"],
        1,
        200,
    )


def test_a_failing_receiver_is_retried_until_it_answers(
    running: Callable[..., MailServer], receiver: Receiver
) -> None:
    receiver.answers = [503, 429]
    server = running(webhook=(receiver.url,), webhook_retry=0.05)
    send(server, "Retried")
    eventually(lambda: webhooks(server)["deliveries"][0]["status"] == "delivered")
    assert len(receiver.received) == 3
    assert webhooks(server)["deliveries"][0]["attempts"] == 3
    assert "x-mailtrap-signature" not in receiver.received[0][0]  # no secret, no signature


def test_a_refusal_ends_the_delivery_and_an_unreachable_url_gives_up(
    running: Callable[..., MailServer], receiver: Receiver
) -> None:
    receiver.answers = [404]
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}/hook"  # bound, never listening: refused
        server = running(webhook=(receiver.url, closed), webhook_retry=0.05, webhook_attempts=2)
        send(server, "Refused")
        eventually(lambda: all(d["status"] == "failed" for d in webhooks(server)["deliveries"]))
    by_url = {d["url"]: d for d in webhooks(server)["deliveries"]}
    assert (by_url[receiver.url]["attempts"], by_url[receiver.url]["code"]) == (1, 404)
    assert by_url[closed]["attempts"] == 2 and by_url[closed]["code"] is None
    assert by_url[closed]["error"]
    assert len(receiver.received) == 1


def test_only_messages_matching_the_query_are_posted(
    running: Callable[..., MailServer], receiver: Receiver
) -> None:
    server = running(webhook=(receiver.url,), webhook_query="subject:invoice")
    send(server, "Newsletter")
    send(server, "Your invoice")
    eventually(lambda: len(receiver.received) == 1)
    eventually(lambda: webhooks(server)["pending"] == 0)
    assert [json.loads(body)["message"]["subject"] for _, body in receiver.received] == ["Your invoice"]
    assert webhooks(server)["query"] == "subject:invoice"


def test_a_slow_receiver_never_delays_the_250(running: Callable[..., MailServer], receiver: Receiver) -> None:
    receiver.gate.clear()  # the receiver holds every request until released
    server = running(webhook=(receiver.url,))
    for n in range(3):
        send(server, f"Held {n}")  # each answered 250 (smtplib raises otherwise)
    status = webhooks(server)
    assert status["pending"] == 3
    assert {d["status"] for d in status["deliveries"]} == {"pending"}
    receiver.gate.set()
    eventually(lambda: webhooks(server)["pending"] == 0)
    assert len(receiver.received) == 3


def test_without_webhooks_the_api_lists_none(api: httpx.Client) -> None:
    assert api.get("/api/webhooks").json() == {"urls": [], "query": None, "pending": 0, "deliveries": []}


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"webhook": ["ftp://example.com/x"]}, "http:// or https://"),
        ({"webhook": ["http://"]}, "http:// or https://"),
        ({"webhook": ["http://x.example/"], "webhook_query": 'subject:"open'}, "--webhook-query"),
    ],
)
def test_bad_webhook_settings_stop_start_up(values: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        build_config(values, environ={})


def test_deliveries_waiting_are_bounded(receiver: Receiver) -> None:
    receiver.gate.clear()

    async def scenario() -> list[str]:
        hub = EventHub()
        dispatcher = WebhookDispatcher(WebhookSettings(urls=(receiver.url,), queue_limit=2), hub.subscribe)
        dispatcher.start()
        await asyncio.sleep(0)
        for n in range(4):
            hub.publish(Event("message.new", {"id": f"m{n}", "subject": str(n)}))
        while len(dispatcher.status().deliveries) < 4:
            await asyncio.sleep(0.01)
        statuses = [d.status for d in reversed(dispatcher.status().deliveries)]
        receiver.gate.set()
        while dispatcher.status().pending:
            await asyncio.sleep(0.01)
        await dispatcher.close()
        return statuses

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == ["pending", "pending", "dropped", "dropped"]
    assert sorted(json.loads(body)["message"]["id"] for _, body in receiver.received) == ["m0", "m1"]
