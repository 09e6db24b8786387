"""``POST /api/messages``: a message handed over HTTP is stored as if it came over SMTP, in a session of its
own that says it came over HTTP; every bad request is a 4xx with a JSON error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, build_config
from tests.conftest import free_config

RAW = (
    b"From: App <app@example.com>\r\nTo: Ann <ann@example.com>, bob@example.com\r\nCc: carl@example.com\r\n"
    b"Bcc: dora@example.com\r\nSubject: Posted\r\n\r\nHello over HTTP\r\n"
)
RFC822 = {"Content-Type": "message/rfc822"}
LIMIT = 4096


@pytest.fixture
def server_config() -> Config:
    return free_config(max_message_size=LIMIT, max_recipients=4)


def post(api: httpx.Client, raw: bytes = RAW, params: Any = None, **headers: str) -> httpx.Response:
    return api.post("/api/messages", content=raw, params=params, headers={**RFC822, **headers})


def recipients(summary: dict[str, Any]) -> list[str]:
    return [r["address"] for r in summary["envelope"]["recipients"]]


def test_the_envelope_defaults_to_the_headers(api: httpx.Client) -> None:
    response = post(api)
    assert response.status_code == 201, response.text
    summary = response.json()
    assert summary["subject"] == "Posted" and summary["size"] == len(RAW)
    assert summary["envelope"]["mail_from"] == "app@example.com"
    assert recipients(summary) == [
        "ann@example.com",
        "bob@example.com",
        "carl@example.com",
        "dora@example.com",
    ]
    assert {r["code"] for r in summary["envelope"]["recipients"]} == {250}
    assert summary["envelope"]["data"]["reply"] == f"2.0.0 Ok: queued as {summary['id']}"
    assert api.get(f"/api/messages/{summary['id']}/raw").content == RAW
    assert api.get("/api/messages/latest").json()["id"] == summary["id"]


def test_a_session_of_its_own_says_it_came_over_http(api: httpx.Client, server: MailServer) -> None:
    summary = post(api, params={"mail_from": "bounce@example.com", "rcpt": "x@example.com"}).json()
    session = api.get(f"/api/messages/{summary['id']}/session").json()
    assert session["protocol"] == "http"
    assert session["peer"].startswith("127.0.0.1:")
    assert session["message_ids"] == [summary["id"]]
    assert session["ended_at"] is not None and session["helo"] is None
    assert [(line["dir"], line["line"]) for line in session["transcript"]] == [
        ("C", f"POST /api/messages: {len(RAW)} bytes of message/rfc822 over HTTP, not SMTP"),
        ("C", "MAIL FROM:<bounce@example.com>"),
        ("C", "RCPT TO:<x@example.com>"),
        ("S", f"250 2.0.0 Ok: queued as {summary['id']}"),
    ]
    assert api.get("/api/sessions").json()["sessions"][0]["id"] == session["id"]
    stats = api.get("/api/stats").json()
    assert (stats["received_total"], stats["sessions_total"]) == (1, 1)


def test_the_envelope_from_the_query(api: httpx.Client) -> None:
    params = [("mail_from", "<>"), ("rcpt", "a@example.com,b@example.com"), ("rcpt", "c@example.com")]
    summary = post(api, params=params).json()
    assert summary["envelope"]["mail_from"] == ""
    assert recipients(summary) == ["a@example.com", "b@example.com", "c@example.com"]
    assert [b["address"] for b in summary["bcc"]] == ["a@example.com", "b@example.com", "c@example.com"]
    found = api.get("/api/messages", params={"q": "rcpt:c@example.com"}).json()
    assert found["total"] == 1


def test_archived_mail_names_its_recipient_in_delivered_to(api: httpx.Client) -> None:
    raw = b"Delivered-To: ann@example.com\r\nSender: list@example.com\r\nSubject: archived\r\n\r\nhi\r\n"
    summary = post(api, raw).json()
    assert recipients(summary) == ["ann@example.com"]
    assert summary["envelope"]["mail_from"] == "list@example.com"


def test_websocket_subscribers_see_it_arrive(api: httpx.Client, server: MailServer) -> None:
    assert server.addresses is not None
    with connect(server.addresses.url.replace("http://", "ws://") + "/api/ws", open_timeout=30) as ws:
        ws.send(json.dumps({"subscribe": "subject:posted"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "subscribed"
        posted = post(api).json()
        while (frame := json.loads(ws.recv(timeout=30)))["type"] != "message.new":
            pass
        assert frame["data"]["id"] == posted["id"]
    waited = api.get("/api/messages/wait", params={"q": "subject:posted", "timeout": 5})
    assert waited.status_code == 200


@pytest.mark.parametrize(
    ("raw", "params", "headers", "status", "fragment"),
    [
        (RAW, None, {"Content-Type": "text/plain"}, 415, "Content-Type: message/rfc822 (got text/plain)"),
        (RAW, None, {"Content-Type": "application/json"}, 415, "got application/json"),
        (b"  \r\n", None, {}, 400, "the body is empty"),
        (b"x" * (LIMIT + 1), None, {}, 413, f"larger than --max-message-size ({LIMIT} bytes)"),
        (b"Subject: nobody\r\n\r\nhi\r\n", None, {}, 400, "no recipients"),
        (RAW, {"rcpt": "a b@example.com"}, {}, 400, "rcpt is not an address"),
        (RAW, {"rcpt": "a@example.com\r\nRCPT TO:<b@example.com>"}, {}, 400, "rcpt is not an address"),
        (RAW, {"mail_from": "x" * 300}, {}, 400, "mail_from is not an address"),
        (RAW, {"rcpt": ",".join(f"r{n}@example.com" for n in range(5))}, {}, 400, "too many recipients: 5"),
        (RAW, {"to": "a@example.com"}, {}, 400, "unknown parameters: to"),
    ],
)
def test_bad_requests(
    api: httpx.Client, raw: bytes, params: Any, headers: dict[str, str], status: int, fragment: str
) -> None:
    response = post(api, raw, params, **headers)
    assert response.status_code == status
    assert fragment in response.json()["error"]
    assert api.get("/api/messages").json()["total"] == 0


def test_a_body_larger_than_it_says_is_refused_while_streaming(api: httpx.Client) -> None:
    def chunks() -> Any:
        for _ in range(LIMIT // 1024 + 2):
            yield b"x" * 1024

    response = api.post("/api/messages", content=chunks(), headers=RFC822)
    assert response.status_code == 413
    assert api.get("/api/messages").json()["total"] == 0


def test_a_cross_origin_page_cannot_post(api: httpx.Client) -> None:
    response = post(api, Origin="http://attacker.example")
    assert response.status_code == 403
    assert api.get("/api/messages").json()["total"] == 0


def test_a_posted_message_is_routed_like_smtp_mail(api: httpx.Client) -> None:
    summary = post(api, b"X-Mailtrap-Mailbox: CI-Run\r\n" + RAW).json()
    assert (summary["mailbox"], summary["mailbox_rule"]) == ("ci-run", "header:X-Mailtrap-Mailbox")
    assert api.get("/api/messages", params={"mailbox": "ci-run"}).json()["total"] == 1


def test_a_user_confined_to_mailboxes_posts_only_into_them(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("ann:ann-pw\nadmin:admin-pw\n")
    flags = build_config({"ui_auth": str(users), "mailbox_access": ["ann=shop"]}, environ={})
    server = MailServer(free_config(ui_auth=flags.ui_auth, mailbox_access=flags.mailbox_access))
    server.start()
    try:
        assert server.addresses is not None
        with (
            httpx.Client(base_url=server.addresses.url, auth=("ann", "ann-pw"), timeout=30) as ann,
            httpx.Client(base_url=server.addresses.url, auth=("admin", "admin-pw"), timeout=30) as admin,
        ):
            refused = post(ann, RAW)
            assert refused.status_code == 400
            assert (
                refused.json()["error"]
                == "this message would go to mailbox 'default'; you may post only to shop"
            )
            assert post(ann, b"X-Mailtrap-Mailbox: shop\r\n" + RAW).json()["mailbox"] == "shop"
            assert post(admin, RAW).json()["mailbox"] == "default"
            assert admin.get("/api/stats").json()["sessions_total"] == 2  # the refused post left nothing
            assert admin.get("/api/messages").json()["total"] == 2
    finally:
        server.stop()
