"""The Mailpit- and MailHog-compatible routes over real sockets, on the memory store and on SQLite: what
their clients rely on beyond the shapes (read on open, bulk changes, ids not stored, bad input)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mailtrap_lite.config import Config
from tests.compat.mail import PDF, send_both
from tests.conftest import free_config


@pytest.fixture(params=["memory", "sqlite"])
def server_config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    return free_config(db=tmp_path / "mail.db") if request.param == "sqlite" else free_config()


def ids(api: httpx.Client, query: str | None = None) -> list[str]:
    found = api.get("/api/v1/search", params={"query": query}) if query else api.get("/api/v1/messages")
    assert found.status_code == 200, found.text
    return [message["ID"] for message in found.json()["messages"]]


def test_mailpit_reads_marks_tags_and_deletes(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    send_both(smtp_address)
    reset, welcome = ids(api)
    listed = api.get("/api/v1/search", params={"query": "is:unread -to:bob"}).json()
    assert (listed["total"], listed["unread"], listed["messages_count"], listed["messages_unread"]) == (
        2,
        2,
        1,
        1,
    )

    opened = api.get("/api/v1/message/latest").json()
    assert opened["ID"] == reset
    assert api.get(f"/api/messages/{reset}").json()["read"] is True
    assert ids(api, "is:unread") == [welcome]

    # Unknown ids change nothing and are no error, as in Mailpit.
    assert api.put("/api/v1/messages", json={"IDs": ["gone", welcome], "Read": True}).text == "ok"
    assert ids(api, "is:read") == [reset, welcome]
    assert api.put("/api/v1/messages", json={"Search": "subject:welcome"}).text == "ok"
    assert ids(api, "is:unread") == [welcome]

    assert api.put("/api/v1/tags", json={"IDs": [welcome, "gone"], "Tags": ["signup"]}).text == "ok"
    assert api.get(f"/api/messages/{welcome}").json()["tags"] == ["signup"]
    assert ids(api, "tag:signup") == [welcome]

    part = api.get(f"/api/v1/message/{welcome}").json()["Attachments"][0]["PartID"]
    download = api.get(f"/api/v1/message/{welcome}/part/{part}")
    assert download.content == PDF
    assert download.headers["content-security-policy"].startswith("sandbox")

    source = api.get(f"/view/{welcome}.raw")
    assert source.headers["content-type"] == "text/plain; charset=utf-8"
    assert source.content == api.get(f"/api/messages/{welcome}/raw").content
    assert api.get(f"/view/{reset}.html").status_code == 404  # no HTML body, as in Mailpit

    deleted = api.request("DELETE", "/api/v1/messages", json={"IDs": [reset, "gone"]})
    assert deleted.text == "ok"
    assert ids(api) == [welcome]
    assert api.delete("/api/v1/search", params={"query": "tag:signup"}).text == "ok"
    assert ids(api) == []


def test_mailhog_paths_and_downloads(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    send_both(smtp_address)
    page = api.get("/api/v2/messages", params={"start": "1", "limit": "1"}).json()
    assert (page["total"], page["count"], page["start"]) == (2, 1, 1)
    welcome = page["items"][0]
    assert welcome["Content"]["Headers"]["Subject"] == ["Welcome Ann"]
    assert welcome["Raw"]["Helo"]  # the client's EHLO name, from the session
    download = api.get(f"/api/v1/messages/{welcome['ID']}/download")
    assert download.headers["content-type"] == "message/rfc822"
    assert download.headers["content-disposition"] == f'attachment; filename="{welcome["ID"]}.eml"'
    assert download.content.decode() == welcome["Raw"]["Data"]
    gone = api.delete(f"/api/v1/messages/{welcome['ID']}")
    assert (gone.status_code, gone.content) == (200, b"")
    assert api.get(f"/api/v1/messages/{welcome['ID']}").status_code == 404
    assert api.get("/api/v2/search", params={"kind": "from", "query": ""}).json()["total"] == 1
