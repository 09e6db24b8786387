"""Mailboxes over real sockets: routing by each rule kind, isolation in the API, wait and websocket,
bulk read, per-mailbox retention, sessions deleted with their mail, and bad flags at start-up."""

from __future__ import annotations

import smtplib
import time
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, build_config
from tests.conftest import free_config
from tests.e2e.helpers import send, serving, simple_message
from tests.test_cli import run_cli
from tests.web.test_ws import next_frame, ws_url

ROUTES = (
    "shop=rcpt:*@shop.example",
    "ops=auth:ops-*",
    "billing=header:X-App:billing*",
)


def routed_config(**flags: object) -> Config:
    """The server these tests talk to: ROUTES, --mailbox-per-user, and these flags' values."""
    config = build_config({"mailbox": list(ROUTES), "mailbox_per_user": True, **flags}, environ={})
    return config.replace(smtp=free_config().smtp, http=free_config().http, quiet=True)


def where_it_listens(server: MailServer) -> tuple[str, tuple[str, int]]:
    """The server's web URL and SMTP address."""
    assert server.addresses is not None
    return server.addresses.url, (server.addresses.smtp.host, server.addresses.smtp.port)


@pytest.fixture
def server_config() -> Config:
    return routed_config()


def deliver(
    address: tuple[str, int],
    subject: str,
    *,
    to: str = "ann@example.com",
    login: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    message = simple_message(subject=subject, to=to)
    for name, value in (headers or {}).items():
        message[name] = value
    with smtplib.SMTP(*address, timeout=30) as client:
        if login is not None:
            client.login(login, "any")
        client.sendmail("app@example.com", [to], message.as_bytes())


def summaries(api: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = api.get("/api/messages", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["messages"]
    return found


def where(api: httpx.Client) -> dict[str, tuple[str, str]]:
    """subject -> (mailbox, mailbox_rule) of every stored message."""
    return {m["subject"]: (m["mailbox"], m["mailbox_rule"]) for m in summaries(api)}


def test_each_rule_kind_routes_and_says_why(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    deliver(smtp_address, "order", to="orders@Shop.example")
    deliver(smtp_address, "alert", login="ops-7")
    deliver(smtp_address, "invoice", headers={"X-App": "billing-eu"})
    deliver(smtp_address, "personal", login="Ann")
    deliver(smtp_address, "plain")
    deliver(smtp_address, "tagged", headers={"X-Mailtrap-Mailbox": "Test-1"})
    assert where(api) == {
        "order": ("shop", "rcpt:*@shop.example"),
        "alert": ("ops", "auth:ops-*"),
        "invoice": ("billing", "header:X-App:billing*"),
        "personal": ("ann", "per-user"),
        "plain": ("default", "default"),
        "tagged": ("test-1", "header:X-Mailtrap-Mailbox"),
    }
    mailboxes = api.get("/api/mailboxes").json()["mailboxes"]
    assert [(m["name"], m["total"], m["unread"]) for m in mailboxes] == [
        ("ann", 1, 1),
        ("billing", 1, 1),
        ("default", 1, 1),
        ("ops", 1, 1),
        ("shop", 1, 1),
        ("test-1", 1, 1),
    ]
    assert all(m["size"] > 0 and m["newest"].endswith("Z") for m in mailboxes)


def test_the_first_matching_mailbox_wins(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    # Every rule matches this one: the first mailbox listed takes it, then per-user would have.
    deliver(smtp_address, "all", to="a@shop.example", login="ops-1", headers={"X-App": "billing"})
    deliver(smtp_address, "two", login="ops-1", headers={"X-App": "billing"})
    assert where(api) == {"all": ("shop", "rcpt:*@shop.example"), "two": ("ops", "auth:ops-*")}


def test_configured_mailboxes_are_listed_before_they_hold_mail(api: httpx.Client) -> None:
    listed = api.get("/api/mailboxes").json()["mailboxes"]
    assert [(m["name"], m["total"], m["newest"]) for m in listed] == [
        ("billing", 0, None),
        ("default", 0, None),
        ("ops", 0, None),
        ("shop", 0, None),
    ]


def test_list_search_wait_delete_and_sessions_stay_in_their_mailbox(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    deliver(smtp_address, "order 1", to="a@shop.example")
    deliver(smtp_address, "alert 1", login="ops-1")
    deliver(smtp_address, "order 2", to="b@shop.example")
    assert [m["subject"] for m in summaries(api, mailbox="shop")] == ["order 2", "order 1"]
    assert [m["subject"] for m in summaries(api, mailbox="SHOP", q="1")] == ["order 1"]
    assert summaries(api, mailbox="nowhere") == []
    assert api.get("/api/messages", params={"q": "mailbox:nowhere"}).json()["total"] == 0

    waited = api.get("/api/messages/wait", params={"mailbox": "ops", "count": "2", "timeout": "0.2"})
    assert waited.status_code == 408 and waited.json()["total"] == 1
    assert api.get("/api/messages/wait", params={"mailbox": "shop", "count": "2"}).json()["total"] == 2

    sessions = api.get("/api/sessions", params={"mailbox": "ops"}).json()
    assert sessions["total"] == 1 and len(sessions["sessions"][0]["message_ids"]) == 1

    deleted = api.delete("/api/messages", params={"mailbox": "shop"}).json()
    assert deleted["deleted"] == 2
    assert [m["subject"] for m in summaries(api)] == ["alert 1"]
    # The sessions that carried only the deleted mail went with it.
    listed = api.get("/api/sessions").json()
    assert listed["total"] == 1 and listed["sessions"][0]["auth"]["username"] == "ops-1"


def test_wait_in_one_mailbox_ignores_mail_for_another(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    deliver(smtp_address, "elsewhere", login="ops-2")
    waited = api.get("/api/messages/wait", params={"mailbox": "shop", "timeout": "0.3"})
    assert waited.status_code == 408 and waited.json()["messages"] == []
    deliver(smtp_address, "here", to="x@shop.example")
    found = api.get("/api/messages/wait", params={"mailbox": "shop", "timeout": "30"}).json()
    assert [m["subject"] for m in found["messages"]] == ["here"]


def test_a_websocket_scoped_to_a_mailbox_sees_only_its_events(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    with connect(ws_url(server) + "?mailbox=shop") as shop, connect(ws_url(server)) as everything:
        deliver(smtp_address, "not for the shop", login="ops-1")
        deliver(smtp_address, "for the shop", to="a@shop.example")
        assert next_frame(shop, "message.new")["data"]["subject"] == "for the shop"
        assert next_frame(everything, "message.new")["data"]["subject"] == "not for the shop"
        ops_id = summaries(api, mailbox="ops")[0]["id"]
        shop_id = summaries(api, mailbox="shop")[0]["id"]
        api.patch(f"/api/messages/{ops_id}", json={"read": True})
        api.patch(f"/api/messages/{shop_id}", json={"read": True})
        assert next_frame(shop, "message.updated")["data"]["id"] == shop_id
        # Switching mailbox by a subscribe frame.
        shop.send('{"subscribe": "", "mailbox": "Ops"}')
        assert next_frame(shop, "subscribed")["data"] == {"q": "", "mailbox": "ops"}
        deliver(smtp_address, "shop again", to="b@shop.example")
        deliver(smtp_address, "ops again", login="ops-1")
        assert next_frame(shop, "message.new")["data"]["subject"] == "ops again"


def test_mark_all_read_in_one_mailbox(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    for n in range(3):
        deliver(smtp_address, f"order {n}", to="a@shop.example")
    deliver(smtp_address, "alert", login="ops-1")
    marked = api.post("/api/messages/read", json={"mailbox": "shop"}).json()
    assert (marked["read"], marked["changed"]) == (True, 3)
    assert api.post("/api/messages/read", json={"mailbox": "shop"}).json()["changed"] == 0
    counts = {m["name"]: m["unread"] for m in api.get("/api/mailboxes").json()["mailboxes"]}
    assert counts["shop"] == 0 and counts["ops"] == 1
    one = summaries(api, mailbox="shop")[0]["id"]
    assert api.post("/api/messages/unread", json={"ids": [one]}).json()["ids"] == [one]
    assert api.post("/api/messages/unread", json={"query": "subject:order 1"}).json()["changed"] == 1
    assert api.get("/api/messages", params={"q": "is:unread"}).json()["total"] == 3
    bad = api.post("/api/messages/read", json={"ids": [one], "mailbox": "shop"})
    assert bad.status_code == 400 and "not both" in bad.json()["error"]
    assert api.post("/api/messages/read", json={"query": "before:x"}).status_code == 400
    assert api.post("/api/messages/read", json={"ids": ["nope"]}).status_code == 404


def eventually_count(
    api: httpx.Client, mailbox: str, wanted: int, path: str = "/api/messages", timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while api.get(path, params={"mailbox": mailbox}).json()["total"] != wanted:
        assert time.monotonic() < deadline, f"{path}?mailbox={mailbox} never counted {wanted}"
        time.sleep(0.05)


def test_retention_is_per_mailbox_with_an_override() -> None:
    config = routed_config(max_messages="2", mailbox_retention=["ops=1"])
    with serving(config) as server, httpx.Client(base_url=where_it_listens(server)[0], timeout=30) as api:
        address = where_it_listens(server)[1]
        for n in range(3):
            deliver(address, f"order {n}", to="a@shop.example")
            deliver(address, f"alert {n}", login="ops-1")
            deliver(address, f"plain {n}")
        eventually_count(api, "shop", 2)
        eventually_count(api, "ops", 1)
        eventually_count(api, "default", 2)
        assert [m["subject"] for m in summaries(api, mailbox="ops")] == ["alert 2"]
        assert [m["subject"] for m in summaries(api, mailbox="shop")] == ["order 2", "order 1"]
        # Sessions went with their pruned mail (each is saved when its connection ends).
        eventually_count(api, "", 5, "/api/sessions")


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (("--mailbox", "shop=to:*@shop.example"), {}, "--mailbox: bad rule 'to:*@shop.example'"),
        (("--mailbox", "Shop Front=rcpt:*"), {}, "--mailbox: bad mailbox name 'Shop Front'"),
        (("--mailbox", "shop"), {}, "--mailbox: expected NAME=RULE"),
        ((), {"MAILTRAP_LITE_MAILBOX": "a=rcpt:*;b=header:X"}, "MAILTRAP_LITE_MAILBOX: bad rule 'header:X'"),
        (("--mailbox-retention", "ops=x"), {}, "--mailbox-retention"),
        (("--mailbox-access", "ann=shop"), {}, "--mailbox-access needs --ui-auth given as a users FILE"),
    ],
)
def test_bad_mailbox_flags_stop_start_up_with_one_line(
    args: tuple[str, ...], env: dict[str, str], fragment: str
) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_mailbox_variable_takes_several_routes() -> None:
    environ = {"MAILTRAP_LITE_MAILBOX": "shop=rcpt:*@shop.example,auth:shop ; ops=auth:ops"}
    config = build_config({}, environ=environ)
    assert [(r.mailbox, [str(rule) for rule in r.rules]) for r in config.mailbox] == [
        ("shop", ["rcpt:*@shop.example", "auth:shop"]),
        ("ops", ["auth:ops"]),
    ]


def test_without_mailbox_flags_everything_is_in_default() -> None:
    with serving(free_config()) as server:
        url, address = where_it_listens(server)
        send(address, simple_message(to="a@shop.example").as_bytes(), recipients=("a@shop.example",))
        with httpx.Client(base_url=url, timeout=30) as api:
            assert where(api) == {"Hello": ("default", "default")}
