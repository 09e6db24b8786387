"""Tags under --mailbox-access: a confined user lists, renames and changes the tags of its mailboxes' mail
only; others see every tag."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.e2e.test_mailboxes import deliver, routed_config
from tests.web.test_ws import next_frame, ws_url


@pytest.fixture
def server_config(tmp_path: Path) -> Config:
    users = tmp_path / "users"
    users.write_text("ann:ann-pw\nadmin:admin-pw\n")
    return routed_config(ui_auth=str(users), mailbox_access=["ann=shop"])


def client(server: MailServer, user: str) -> httpx.Client:
    assert server.addresses is not None
    return httpx.Client(base_url=server.addresses.url, auth=(user, f"{user}-pw"), timeout=30)


def test_a_confined_user_sees_and_changes_only_its_mailboxes_tags(
    server: MailServer, smtp_address: tuple[str, int]
) -> None:
    deliver(smtp_address, "order", to="a@shop.example", headers={"X-Tags": "team, shop"})
    deliver(smtp_address, "plain", headers={"X-Tags": "team"})
    deliver(smtp_address, "other", headers={"X-Tags": "team"})
    with client(server, "ann") as ann, client(server, "admin") as admin:
        assert admin.get("/api/tags").json()["tags"] == [
            {"name": "shop", "count": 1},
            {"name": "team", "count": 3},
        ]
        assert ann.get("/api/tags").json()["tags"] == [
            {"name": "shop", "count": 1},
            {"name": "team", "count": 1},
        ]
        assert ann.post("/api/messages/tags", json={"query": "", "add": ["mine"]}).json()["changed"] == 1
        assert ann.put("/api/tags/team", json={"name": "renamed"}).json()["changed"] == 1
        assert ann.delete("/api/tags/renamed").json()["changed"] == 1
        # Tags only other mailboxes' mail carries are not there for ann.
        assert ann.delete("/api/tags/team").status_code == 404
        assert ann.put("/api/tags/team", json={"name": "x"}).status_code == 404
        assert admin.get("/api/tags").json()["tags"] == [
            {"name": "mine", "count": 1},
            {"name": "shop", "count": 1},
            {"name": "team", "count": 2},
        ]


def test_a_confined_users_websocket_hears_only_its_mailboxes_tag_changes(
    server: MailServer, smtp_address: tuple[str, int]
) -> None:
    deliver(smtp_address, "order", to="a@shop.example")
    deliver(smtp_address, "plain")
    token = base64.b64encode(b"ann:ann-pw").decode()
    with (
        client(server, "admin") as admin,
        connect(ws_url(server), additional_headers={"Authorization": f"Basic {token}"}) as ws,
        connect(
            ws_url(server),
            additional_headers={"Authorization": "Basic " + base64.b64encode(b"admin:admin-pw").decode()},
        ) as everything,
    ):
        changed = admin.post("/api/messages/tags", json={"query": "", "add": ["all"]}).json()
        assert changed["changed"] == 2
        # One frame per mailbox: the unconfined user hears both, ann only the shop's.
        heard = [next_frame(everything, "messages.tagged")["data"] for _ in range(2)]
        assert sorted(frame["mailbox"] for frame in heard) == ["default", "shop"]
        # default's frame is published before shop's: had ann heard it, it would come first.
        shop = next_frame(ws, "messages.tagged")["data"]
        assert shop["mailbox"] == "shop" and len(shop["ids"]) == 1 and shop["add"] == ["all"]
