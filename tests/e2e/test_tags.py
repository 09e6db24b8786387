"""Tags over real sockets: each automatic source over SMTP, then listing, renaming, deleting and bulk
changes over HTTP, with the websocket events they send; on both stores."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from mailtrap_lite.tags import parse_rule
from tests.conftest import free_config
from tests.e2e.helpers import serving, simple_message


@pytest.fixture(params=["memory", "sqlite"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    return free_config(db=tmp_path / "tags.db" if request.param == "sqlite" else None)


@pytest.fixture
def tagging_server(store_config: Config) -> Iterator[MailServer]:
    rules = (parse_rule("welcome=subject:welcome"), parse_rule("shop=from:shop.example"))
    config = store_config.replace(tag=rules, tags_from_plus=True, tags_from_auth=True)
    with serving(config) as server:
        yield server


def addresses(server: MailServer) -> tuple[tuple[str, int], str]:
    assert server.addresses is not None
    smtp = server.addresses.smtp
    return (smtp.host, smtp.port), server.addresses.url


def send(
    smtp: tuple[str, int],
    subject: str,
    *,
    to: str = "ann@example.com",
    sender: str = "App <app@example.com>",
    x_tags: str | None = None,
    user: str | None = None,
) -> None:
    message = simple_message(subject=subject, to=to)
    message.replace_header("From", sender)
    if x_tags is not None:
        message["X-Tags"] = x_tags
    with smtplib.SMTP(*smtp, timeout=30) as client:
        if user is not None:
            client.login(user, "any password")
        client.send_message(message)


def next_event(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=30))
        if frame["type"] == kind:
            data: dict[str, Any] = frame["data"]
            return data


def tags_of(api: httpx.Client, q: str) -> list[list[str]]:
    return [m["tags"] for m in api.get("/api/messages", params={"q": q}).json()["messages"]]


def test_every_automatic_source_tags_the_message_and_its_event(tagging_server: MailServer) -> None:
    smtp, url = addresses(tagging_server)
    with httpx.Client(base_url=url, timeout=30) as api, connect(url.replace("http", "ws") + "/api/ws") as ws:
        send(
            smtp,
            "Welcome aboard",
            to="Ann+Signup@example.com",
            sender="Shop <hello@shop.example>",
            x_tags="Urgent, billing,, a b ,Urgent",
            user="CI-Bot",
        )
        new = next_event(ws, "message.new")
        assert new["tags"] == ["urgent", "billing", "a b", "signup", "ci-bot", "welcome", "shop"]
        stored = api.get(f"/api/messages/{new['id']}").json()
        assert stored["tags"] == new["tags"]

        send(smtp, "Invoice 42")  # no source applies
        assert next_event(ws, "message.new")["tags"] == []
        assert tags_of(api, "is:untagged") == [[]]
        assert len(tags_of(api, "is:tagged")) == 1
        assert tags_of(api, "tag:Signup tag:welcome") == [new["tags"]]


def test_plus_and_auth_tags_are_opt_in(store_config: Config) -> None:
    with serving(store_config) as server:
        smtp, url = addresses(server)
        send(smtp, "Welcome", to="ann+signup@example.com", x_tags="from-header", user="ci-bot")
        with httpx.Client(base_url=url, timeout=30) as api:
            assert tags_of(api, "") == [["from-header"]]


def test_bad_tags_are_400s_naming_the_tag(tagging_server: MailServer) -> None:
    smtp, url = addresses(tagging_server)
    send(smtp, "Plain")
    with httpx.Client(base_url=url, timeout=30) as api:
        message_id = api.get("/api/messages").json()["messages"][0]["id"]
        for bad, why in [
            ("x" * 10_000, "10000 characters, at most 64"),
            ("tab\there", "control characters"),
            ("nul\x00", "control characters"),
            ("a,b", "cannot hold a comma"),
            (" ", "cannot be empty"),
        ]:
            for response in (
                api.patch(f"/api/messages/{message_id}", json={"tags": ["fine", bad]}),
                api.post("/api/messages/tags", json={"query": "", "add": [bad]}),
                api.put("/api/tags/fine", json={"name": bad}),
            ):
                assert response.status_code == 400, response.text
                error = response.json()["error"]
                assert error.startswith("bad tag ") and why in error and len(error) < 200
        assert api.get(f"/api/messages/{message_id}").json()["tags"] == []
        # What was stored as given before normalisation is now normalised, duplicates dropped.
        patched = api.patch(f"/api/messages/{message_id}", json={"tags": ["Fine", " fine ", "Two  Words"]})
        assert patched.status_code == 200 and patched.json()["tags"] == ["fine", "two words"]
        assert api.post("/api/messages/tags", json={"query": ""}).status_code == 400
        assert api.post("/api/messages/tags", json={"add": ["x"]}).status_code == 400
        assert api.post("/api/messages/tags", json={"query": "", "add": "x"}).status_code == 400
        assert api.post("/api/messages/tags", json={"query": "nofield:x", "add": ["x"]}).status_code == 400
        assert api.put("/api/tags/fine", json={"name": 3}).status_code == 400
        assert api.put("/api/tags/fine", json={"name": "x", "more": 1}).status_code == 400


def test_list_rename_delete_and_bulk_change_tags(tagging_server: MailServer) -> None:
    smtp, url = addresses(tagging_server)
    send(smtp, "Welcome one", x_tags="ci/nightly")
    send(smtp, "Welcome two")
    send(smtp, "Invoice", x_tags="Billing")
    with httpx.Client(base_url=url, timeout=30) as api, connect(url.replace("http", "ws") + "/api/ws") as ws:
        listed = api.get("/api/tags").json()
        assert listed == {
            "tags": [
                {"name": "billing", "count": 1},
                {"name": "ci/nightly", "count": 1},
                {"name": "welcome", "count": 2},
            ]
        }
        scoped = api.get("/api/tags", params={"q": "subject:invoice", "mailbox": "default"}).json()
        assert scoped == {"tags": [{"name": "billing", "count": 1}]}
        assert api.get("/api/tags", params={"mailbox": "nowhere"}).json() == {"tags": []}

        # A tag holding a slash is reached URL-encoded.
        renamed = api.put("/api/tags/CI%2FNightly", json={"name": "Nightly"})
        assert renamed.status_code == 200 and renamed.json()["changed"] == 1
        event = next_event(ws, "messages.tagged")
        assert event == {
            "mailbox": "default",
            "ids": renamed.json()["ids"],
            "add": ["nightly"],
            "remove": ["ci/nightly"],
        }
        assert tags_of(api, "subject:one") == [["welcome", "nightly"]]  # a renamed tag goes last

        # Rename onto an existing tag merges them.
        merged = api.put("/api/tags/nightly", json={"name": "WELCOME"})
        assert merged.json()["changed"] == 1
        assert next_event(ws, "messages.tagged")["add"] == ["welcome"]
        assert tags_of(api, "subject:one") == [["welcome"]]
        assert api.put("/api/tags/nightly", json={"name": "x"}).status_code == 404
        assert api.put("/api/tags/welcome", json={"name": " Welcome "}).json() == {"changed": 0, "ids": []}

        bulk = api.post(
            "/api/messages/tags", json={"query": "subject:welcome", "add": ["Seen"], "remove": []}
        )
        assert bulk.json()["changed"] == 2
        assert next_event(ws, "messages.tagged")["add"] == ["seen"]
        everything = api.post("/api/messages/tags", json={"query": None, "add": ["all"], "remove": ["seen"]})
        assert everything.json()["changed"] == 3
        assert next_event(ws, "messages.tagged") == {
            "mailbox": "default",
            "ids": everything.json()["ids"],
            "add": ["all"],
            "remove": ["seen"],
        }
        assert tags_of(api, "") == [["billing", "all"], ["welcome", "all"], ["welcome", "all"]]

        deleted = api.delete("/api/tags/WELCOME")
        assert deleted.status_code == 200 and deleted.json()["changed"] == 2
        assert next_event(ws, "messages.tagged")["remove"] == ["welcome"]
        assert api.delete("/api/tags/welcome").status_code == 404
        assert api.get("/api/tags").json()["tags"] == [
            {"name": "all", "count": 3},
            {"name": "billing", "count": 1},
        ]
