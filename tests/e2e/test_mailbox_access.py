"""--mailbox-access: a --ui-auth user confined to its mailboxes sees only their mail, through every
route, wait and the websocket; other users see everything."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.e2e.test_mailboxes import deliver, routed_config, summaries
from tests.test_cli import run_cli
from tests.web.test_ws import next_frame, ws_url

USERS = "# the team\nann:ann-pw\nbob:bob:pw\nadmin:admin-pw\n"


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users"
    path.write_text(USERS)
    return path


@pytest.fixture
def server_config(users_file: Path) -> Config:
    return routed_config(ui_auth=str(users_file), mailbox_access=["ann=shop", "bob=ops,billing"])


def client(server: MailServer, user: str, password: str) -> httpx.Client:
    assert server.addresses is not None
    return httpx.Client(base_url=server.addresses.url, auth=(user, password), timeout=30)


@pytest.fixture
def ann(server: MailServer) -> Iterator[httpx.Client]:
    with client(server, "ann", "ann-pw") as api:
        yield api


@pytest.fixture
def admin(server: MailServer) -> Iterator[httpx.Client]:
    with client(server, "admin", "admin-pw") as api:
        yield api


@pytest.fixture
def mail(smtp_address: tuple[str, int], admin: httpx.Client) -> dict[str, str]:
    """One message in each of shop, ops, billing and default: subject -> id."""
    deliver(smtp_address, "order", to="a@shop.example")
    deliver(smtp_address, "alert", login="ops-1")
    deliver(smtp_address, "invoice", headers={"X-App": "billing"})
    deliver(smtp_address, "plain")
    return {m["subject"]: m["id"] for m in summaries(admin)}


def test_each_user_lists_only_its_mailboxes(
    server: MailServer, mail: dict[str, str], ann: httpx.Client, admin: httpx.Client
) -> None:
    assert [m["subject"] for m in summaries(ann)] == ["order"]
    assert summaries(ann, mailbox="ops") == []
    assert summaries(ann, q="mailbox:ops") == []
    with client(server, "bob", "bob:pw") as bob:  # a password may hold a colon
        assert [m["subject"] for m in summaries(bob)] == ["invoice", "alert"]
        assert [m["name"] for m in bob.get("/api/mailboxes").json()["mailboxes"]] == ["billing", "ops"]
    assert len(summaries(admin)) == 4
    assert [m["name"] for m in ann.get("/api/mailboxes").json()["mailboxes"]] == ["shop"]
    assert len(admin.get("/api/mailboxes").json()["mailboxes"]) == 4


def test_another_mailboxs_message_is_not_found(mail: dict[str, str], ann: httpx.Client) -> None:
    other = mail["alert"]
    for suffix in ("", "/raw", "/html", "/session", "/parts/1"):
        response = ann.get(f"/api/messages/{other}{suffix}")
        assert response.status_code == 404, suffix
        assert response.json() == {"error": f"no message {other!r}"}
    assert ann.patch(f"/api/messages/{other}", json={"read": True}).status_code == 404
    assert ann.delete(f"/api/messages/{other}").status_code == 404
    assert ann.post("/api/messages/read", json={"ids": [other]}).status_code == 404
    assert ann.get("/api/messages/latest").json()["subject"] == "order"
    assert ann.get(f"/api/messages/{mail['order']}").status_code == 200


def test_sessions_are_those_that_delivered_to_the_users_mailboxes(
    mail: dict[str, str], ann: httpx.Client, admin: httpx.Client
) -> None:
    listed = ann.get("/api/sessions").json()
    assert listed["total"] == 1 and listed["sessions"][0]["message_ids"] == [mail["order"]]
    assert ann.get("/api/sessions", params={"mailbox": "ops"}).json()["total"] == 0
    ops_session = admin.get(f"/api/messages/{mail['alert']}/session").json()["id"]
    assert ann.get(f"/api/sessions/{ops_session}").status_code == 404
    assert admin.get(f"/api/sessions/{ops_session}").status_code == 200


def test_bulk_changes_and_deletes_stay_in_the_users_mailboxes(
    mail: dict[str, str], ann: httpx.Client, admin: httpx.Client
) -> None:
    assert ann.post("/api/messages/read", json={}).json()["ids"] == [mail["order"]]
    assert admin.get("/api/messages").json()["unread"] == 3
    assert ann.delete("/api/messages").json()["ids"] == [mail["order"]]
    assert sorted(m["subject"] for m in summaries(admin)) == ["alert", "invoice", "plain"]


def test_wait_sees_only_the_users_mail(
    smtp_address: tuple[str, int], mail: dict[str, str], ann: httpx.Client
) -> None:
    waited = ann.get("/api/messages/wait", params={"q": "alert", "timeout": "0.2"})
    assert waited.status_code == 408 and waited.json()["messages"] == []
    deliver(smtp_address, "second order", to="b@shop.example")
    found = ann.get("/api/messages/wait", params={"count": "2", "timeout": "30"}).json()
    assert [m["subject"] for m in found["messages"]] == ["second order", "order"]


def test_the_websocket_shows_only_the_users_mail(
    server: MailServer, smtp_address: tuple[str, int], admin: httpx.Client
) -> None:
    token = base64.b64encode(b"ann:ann-pw").decode()
    headers = {"Authorization": f"Basic {token}"}
    with connect(ws_url(server), additional_headers=headers) as ws:
        # Even asking for another mailbox: the user's own are the limit.
        ws.send(json.dumps({"subscribe": "", "mailbox": "ops"}))
        next_frame(ws, "subscribed")
        deliver(smtp_address, "alert", login="ops-1")
        ws.send(json.dumps({"subscribe": "", "mailbox": None}))
        next_frame(ws, "subscribed")
        deliver(smtp_address, "order", to="a@shop.example")
        frames = []
        while not frames or frames[-1]["type"] != "message.new":
            frames.append(json.loads(ws.recv(timeout=10)))
        assert frames[-1]["data"]["subject"] == "order"
        assert {f["type"] for f in frames} <= {"message.new", "subscribed", "ping"}
    assert len(summaries(admin)) == 2


def test_a_mailbox_access_user_missing_from_the_users_file_stops_start_up(users_file: Path) -> None:
    result = run_cli(
        "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0",
        "--ui-auth", str(users_file), "--mailbox-access", "carol=shop",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "mailtrap-lite: error: --mailbox-access: no --ui-auth user 'carol'"


def test_a_bad_users_file_names_the_flag(tmp_path: Path) -> None:
    bad = tmp_path / "users"
    bad.write_text("ann\n")
    result = run_cli("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ui-auth", str(bad))
    assert result.returncode == 2
    assert f"--ui-auth: {bad}:1: expected user:password" in result.stderr
