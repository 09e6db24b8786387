"""/api/ws fed random frames: text, binary, broken JSON, huge frames, subscriptions with random queries.

Each frame is answered by one documented frame (``subscribed``, ``pong`` or ``error`` with its text), or
the connection is closed with a documented code; the server never fails, and a fresh websocket works.
"""

from __future__ import annotations

import json
import smtplib
from typing import Any

import httpx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.search import QueryError, parse_query
from tests.fuzz.budget import examples
from tests.fuzz.test_fuzz_search import QUERIES

# RFC 6455 §7.4.1: normal, policy violation, message too big; 1013 "try again later" for a slow client.
DOCUMENTED_CLOSE_CODES = {1000, 1008, 1009, 1013}
ANSWERS = {"subscribed", "pong", "error"}
FRAME_LIMIT = 64 * 1024  # characters in one client frame; a longer one is answered with an error
EVENTS = {"message.new", "message.updated", "message.deleted", "messages.cleared", "session.ended", "ping"}


@pytest.fixture(scope="module")
def ws_url(server: MailServer) -> str:
    assert server.addresses is not None
    return server.addresses.url.replace("http://", "ws://") + "/api/ws"


def answer(client: ClientConnection) -> dict[str, Any]:
    """The next frame that answers the client (events in between are skipped)."""
    while True:
        text = client.recv(timeout=30)
        assert isinstance(text, str), "the server sends text frames"
        frame: dict[str, Any] = json.loads(text)
        assert set(frame) == {"type", "data"}, frame
        if frame["type"] not in EVENTS:
            assert frame["type"] in ANSWERS, frame
            return frame


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    )


_FRAMES = st.one_of(
    QUERIES.map(lambda q: json.dumps({"subscribe": q})),
    st.sampled_from([None, 1, [], {}, "", True]).map(lambda q: json.dumps({"subscribe": q})),
    _json_values().map(json.dumps),
    st.just(json.dumps({"type": "ping"})),
    st.text(max_size=50),
    st.sampled_from(['{"subscribe": "\\ud800"}', '{"subscribe": "a", "subscribe": 1}', "{", "\x00"]),
    st.binary(max_size=50),
    st.sampled_from([70_000, 1_000_000]).map(lambda n: json.dumps({"subscribe": "x" * n})),
    st.just(b"\x00" * 100_000),
)


def check_answer(frame: dict[str, Any], sent: str | bytes) -> None:
    kind, data = frame["type"], frame["data"]
    if kind == "error":
        assert isinstance(data["error"], str) and data["error"], frame
        return
    assert isinstance(sent, str)
    request = json.loads(sent)
    if kind == "pong":
        assert request == {"type": "ping"}
    else:
        assert set(data) == {"q", "mailbox"} and data["q"] == (request["subscribe"] or "")


def test_deeply_nested_json_is_an_error_frame(ws_url: str) -> None:
    with connect(ws_url, open_timeout=30, close_timeout=5) as client:
        client.send("[" * 3000)
        assert answer(client)["type"] == "error"


@examples(120)
@given(st.lists(_FRAMES, min_size=1, max_size=6))
def test_random_frames(ws_url: str, frames: list[str | bytes]) -> None:
    with connect(ws_url, open_timeout=30, close_timeout=5, max_size=None) as client:
        for sent in frames:
            try:
                client.send(sent)
                frame = answer(client)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None, "the connection dropped without a close frame"
                assert closed.rcvd.code in DOCUMENTED_CLOSE_CODES, closed.rcvd
                break
            check_answer(frame, sent)
    with connect(ws_url, open_timeout=30) as fresh:
        fresh.send(json.dumps({"type": "ping"}))
        assert answer(fresh)["type"] == "pong"


_MAIL = [
    b"From: Shop <shop@example.com>\r\nTo: ann@example.com\r\nSubject: Your order #42\r\n\r\nThanks!\r\n",
    b"From: news@junk.example\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\n\r\n50% off: order now\r\n",
]


@examples(30)
@given(QUERIES, st.sampled_from(_MAIL))
def test_a_subscription_filters_as_search_does(
    server: MailServer, ws_url: str, text: str, raw: bytes
) -> None:
    """A subscriber gets message.new exactly when the API's search with the same query finds the message."""
    assert server.addresses is not None
    request = json.dumps({"subscribe": text})
    try:
        parse_query(text)
        valid = len(request) <= FRAME_LIMIT
    except QueryError:
        valid = False
    with connect(ws_url, open_timeout=30, close_timeout=5) as client:
        client.send(request)
        assert answer(client)["type"] == ("subscribed" if valid else "error")
        if not valid:
            return
        smtp_address = server.addresses.smtp
        with smtplib.SMTP(smtp_address.host, smtp_address.port, timeout=30) as smtp:
            smtp.sendmail("app@example.com", ["ann@example.com"], raw)
        announced = []
        while (frame := json.loads(client.recv(timeout=30)))["type"] != "session.ended":
            if frame["type"] == "message.new":
                announced.append(frame["data"]["id"])
        sent = frame["data"]["message_ids"]
    with httpx.Client(base_url=server.addresses.url, timeout=30) as api:
        found = api.get("/api/messages", params={"q": text, "limit": 1000}).json()["messages"]
    assert announced == [m["id"] for m in found if m["id"] in sent]
    event(f"announced: {bool(announced)}")  # --hypothesis-show-statistics: both outcomes should occur
