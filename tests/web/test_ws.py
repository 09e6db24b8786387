"""/api/ws against the real server with a real websocket client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.events import Event
from mailtrap_lite.web import ws
from tests.e2e.helpers import send, simple_message


def ws_url(server: MailServer) -> str:
    assert server.addresses is not None
    return server.addresses.url.replace("http://", "ws://") + "/api/ws"


def next_frame(client: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next frame of this type, skipping others (session.ended, ping...)."""
    deadline = time.monotonic() + timeout
    while True:
        frame: dict[str, Any] = json.loads(client.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame["type"] == kind:
            return frame


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_message_new_arrives_after_an_smtp_send(server: MailServer, smtp_address: tuple[str, int]) -> None:
    with connect(ws_url(server)) as client:
        send(smtp_address, simple_message(subject="live one").as_bytes())
        frame = next_frame(client, "message.new")
        assert frame["data"]["subject"] == "live one"
        assert frame["data"]["to"] == [{"name": "", "address": "ann@example.com"}]
        ended = next_frame(client, "session.ended")
        assert ended["data"]["message_ids"] == [frame["data"]["id"]]
        assert "transcript" not in ended["data"]


def test_updates_and_deletes_are_pushed(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send(smtp_address, simple_message(subject="change me").as_bytes())
    message_id = api.get("/api/messages/latest").json()["id"]
    with connect(ws_url(server)) as client:
        api.patch(f"/api/messages/{message_id}", json={"read": True})
        updated = next_frame(client, "message.updated")
        assert updated["data"]["id"] == message_id and updated["data"]["read"] is True
        api.delete(f"/api/messages/{message_id}")
        assert next_frame(client, "message.deleted")["data"]["ids"] == [message_id]
        api.delete("/api/messages")
        assert next_frame(client, "messages.cleared")["data"] == {"ids": []}


def test_subscribe_filters_message_new(server: MailServer, smtp_address: tuple[str, int]) -> None:
    with connect(ws_url(server)) as client:
        client.send(json.dumps({"subscribe": "subject:invoice"}))
        assert next_frame(client, "subscribed")["data"] == {"q": "subject:invoice", "mailbox": None}
        send(smtp_address, simple_message(subject="hello").as_bytes())
        send(smtp_address, simple_message(subject="your invoice").as_bytes())
        assert next_frame(client, "message.new")["data"]["subject"] == "your invoice"
        client.send(json.dumps({"subscribe": ""}))
        next_frame(client, "subscribed")
        send(smtp_address, simple_message(subject="hello again").as_bytes())
        assert next_frame(client, "message.new")["data"]["subject"] == "hello again"


@pytest.mark.parametrize(
    ("request_text", "fragment"),
    [
        (json.dumps({"subscribe": '"unclosed'}), "unterminated quote"),
        (json.dumps({"subscribe": "nosuchfield:x"}), "unknown field"),
        (json.dumps({"subscribe": 42}), "query string"),
        ("not json", "JSON"),
        ("[1]", "JSON objects"),
        (json.dumps({"hello": 1}), "subscribe"),
    ],
)
def test_bad_requests_get_an_error_frame_not_a_disconnect(
    server: MailServer, smtp_address: tuple[str, int], request_text: str, fragment: str
) -> None:
    with connect(ws_url(server)) as client:
        client.send(request_text)
        assert fragment in next_frame(client, "error")["data"]["error"]
        client.send(json.dumps({"type": "ping"}))
        assert next_frame(client, "pong")["data"] is None
        send(smtp_address, simple_message(subject="still here").as_bytes())
        assert next_frame(client, "message.new")["data"]["subject"] == "still here"


def test_cross_origin_handshakes_are_refused(server: MailServer) -> None:
    assert server.addresses is not None
    for origin in ("http://evil.example", "null", f"https://127.0.0.1:{server.addresses.http.port + 1}"):
        with pytest.raises(InvalidStatus) as refused, connect(ws_url(server), origin=origin):  # type: ignore[arg-type]
            pass
        assert refused.value.response.status_code == 403
        assert json.loads(refused.value.response.body) == {"error": "cross-origin websocket refused"}
    with connect(ws_url(server), origin=server.addresses.url) as client:  # type: ignore[arg-type]
        client.send(json.dumps({"subscribe": ""}))
        next_frame(client, "subscribed")


def test_a_client_that_falls_behind_is_dropped(server: MailServer) -> None:
    server.hub.queue_size = 5
    with connect(ws_url(server)) as client:
        eventually(lambda: server.hub.subscriber_count == 1)
        assert server.loop is not None
        # One loop callback: the sender gets no chance to drain the queue between publishes.
        server.loop.call_soon_threadsafe(
            lambda: [server.hub.publish(Event("stats", {"n": n})) for n in range(100)]
        )
        with pytest.raises(ConnectionClosed):
            while True:
                client.recv(timeout=10)
        assert client.close_code == ws.TRY_AGAIN_LATER
        assert client.close_reason is not None and "too slow" in client.close_reason
    eventually(lambda: server.hub.subscriber_count == 0)


def test_a_client_that_leaves_is_noticed(server: MailServer) -> None:
    with connect(ws_url(server)):
        eventually(lambda: server.hub.subscriber_count == 1)
    eventually(lambda: server.hub.subscriber_count == 0)


def test_an_idle_connection_is_pinged(server: MailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws, "PING_INTERVAL", 0.1)
    with connect(ws_url(server)) as client:
        assert next_frame(client, "ping", timeout=5)["data"] is None


def test_the_readme_example_runs(server: MailServer, smtp_address: tuple[str, int]) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Live events") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", section.index("```python"))]
    code = code.replace("ws://127.0.0.1:8025", ws_url(server).removesuffix("/api/ws"))
    printed: list[str] = []
    runner = threading.Thread(target=exec, args=(code, {"print": printed.append}), daemon=True)
    runner.start()
    deadline = time.monotonic() + 10
    # The example subscribes before it listens: keep sending until it has seen one.
    while runner.is_alive() and time.monotonic() < deadline:
        send(smtp_address, simple_message(subject="from the README").as_bytes())
        runner.join(0.2)
    assert printed == ["from the README"]
