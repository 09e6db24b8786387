"""--mailbox-access through the Mailpit- and MailHog-compatible routes: a confined user sees, changes and
deletes only its mailboxes' mail there too."""

from __future__ import annotations

import httpx

from tests.e2e.test_mailbox_access import admin, ann, mail, server_config, users_file
from tests.e2e.test_mailboxes import summaries

__all__ = ["admin", "ann", "mail", "server_config", "users_file"]


def test_a_confined_user_sees_only_its_mailboxes(
    mail: dict[str, str], ann: httpx.Client, admin: httpx.Client
) -> None:
    listed = ann.get("/api/v1/messages").json()
    assert [m["Subject"] for m in listed["messages"]] == ["order"]
    assert (listed["total"], listed["messages_count"]) == (1, 1)
    assert ann.get("/api/v1/search", params={"query": "alert"}).json()["messages_count"] == 0
    assert ann.get("/api/v1/info").json()["Messages"] == 1
    assert [m["ID"] for m in ann.get("/api/v2/messages").json()["items"]] == [mail["order"]]
    for path in (
        f"/api/v1/message/{mail['alert']}",
        f"/api/v1/message/{mail['alert']}/raw",
        f"/view/{mail['alert']}.txt",
        f"/view/{mail['alert']}.html",
        f"/api/v1/messages/{mail['alert']}",
    ):
        assert ann.get(path).status_code == 404, path
    assert ann.get("/api/v1/message/latest").json()["ID"] == mail["order"]

    assert ann.put("/api/v1/messages", json={"Read": True}).text == "ok"
    assert ann.put("/api/v1/tags", json={"IDs": [mail["alert"], mail["order"]], "Tags": ["x"]}).text == "ok"
    unread = {m["subject"] for m in summaries(admin, q="is:unread")}
    assert unread == {"alert", "invoice", "plain"}
    assert {m["subject"] for m in summaries(admin, q="tag:x")} == {"order"}

    assert ann.delete(f"/api/v1/messages/{mail['alert']}").status_code == 404
    assert ann.request("DELETE", "/api/v1/messages", json={"IDs": [mail["invoice"]]}).text == "ok"
    assert ann.delete("/api/v1/messages").text == "ok"
    assert {m["subject"] for m in summaries(admin)} == {"alert", "invoice", "plain"}


def test_a_confined_user_sends_only_into_its_mailboxes(ann: httpx.Client, admin: httpx.Client) -> None:
    body = {"From": {"Email": "app@example.com"}, "Subject": "via send", "Text": "x"}
    refused = ann.post("/api/v1/send", json={**body, "To": [{"Email": "carl@example.com"}]})
    assert refused.status_code == 400, refused.text
    assert summaries(admin, q="subject:via") == []
    sent = ann.post("/api/v1/send", json={**body, "To": [{"Email": "a@shop.example"}]})
    assert sent.status_code == 200, sent.text
    assert [m["mailbox"] for m in summaries(admin, q="subject:via")] == ["shop"]
