"""Manual release over the API: a second mailtrap-lite on loopback is the next hop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import MailboxAccess
from tests.conftest import free_config
from tests.relay.helpers import RAW, api_of, latest_id, messages, relaying, running, send, wait_until


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


def test_release_sends_the_captured_bytes_and_records_the_conversation(upstream: MailServer) -> None:
    with running(relaying(upstream)) as relay, api_of(relay) as api, api_of(upstream) as up:
        send(relay, recipients=("ann@example.com", "bob@example.com"))
        message_id = latest_id(api)
        response = api.post(f"/api/messages/{message_id}/release", json={})
        assert response.status_code == 200, response.text
        record = response.json()
        assert record["result"] == "sent" and record["code"] == 250
        assert record["to"] == ["ann@example.com", "bob@example.com"]  # the envelope's, by default
        assert record["trigger"] == "manual"
        # The upstream got the captured bytes unchanged behind one prepended Received line.
        arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
        raw = up.get(f"/api/messages/{arrived['id']}/raw").content
        trace = b"Received: by mailtrap-lite (mailtrap-lite) with ESMTP id " + message_id.encode()
        assert raw.startswith(trace)
        assert raw.endswith(RAW)
        assert [r["address"] for r in arrived["envelope"]["recipients"]] == [
            "ann@example.com",
            "bob@example.com",
        ]
        assert arrived["envelope"]["mail_from"] == "app@example.com"
        # The outbound transcript has the inbound one's line format, and the commands in order.
        lines = [(line["dir"], line["line"]) for line in record["transcript"]]
        assert lines[0][0] == "S" and lines[0][1].startswith("220 ")
        sent = [text for direction, text in lines if direction == "C"]
        assert sent[:2] == ["EHLO mailtrap-lite", f"MAIL FROM:<app@example.com> SIZE={len(raw)}"]
        assert sent[2:] == [
            "RCPT TO:<ann@example.com>",
            "RCPT TO:<bob@example.com>",
            "DATA",
            f"<DATA {len(raw)} bytes>",
            "QUIT",
        ]
        assert all(isinstance(line["t_ms"], int) for line in record["transcript"])
        assert [r["command"].split(" ")[0] for r in record["replies"]][-2:] == ["DATA", "QUIT"]
        # The message carries its release.
        stored = api.get(f"/api/messages/{message_id}").json()
        assert [r["result"] for r in stored["releases"]] == ["sent"]
        assert stored["releases"][0]["transcript"] == record["transcript"]


def test_release_to_other_recipients(upstream: MailServer) -> None:
    with running(relaying(upstream)) as relay, api_of(relay) as api, api_of(upstream) as up:
        send(relay)
        message_id = latest_id(api)
        record = api.post(f"/api/messages/{message_id}/release", json={"to": ["me@real.example"]}).json()
        assert record["result"] == "sent"
        arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
        assert [r["address"] for r in arrived["envelope"]["recipients"]] == ["me@real.example"]


def test_upstream_refusal_is_a_502_carrying_the_record(upstream: MailServer) -> None:
    with running(relaying(upstream)) as relay, api_of(relay) as api, api_of(upstream) as up:
        up.post("/api/faults", json={"stage": "data", "code": 554, "message": "No thanks"})
        send(relay)
        message_id = latest_id(api)
        response = api.post(f"/api/messages/{message_id}/release", json={})
        assert response.status_code == 502
        record = response.json()
        assert (record["result"], record["code"]) == ("refused", 554)
        assert "No thanks" in record["error"]
        assert record["transcript"][-1]["line"].startswith("221") or any(
            line["line"].startswith("554") for line in record["transcript"]
        )
        assert messages(up) == []
        assert api.get(f"/api/messages/{message_id}").json()["releases"][0]["code"] == 554


def test_a_temporary_refusal_is_deferred_and_a_vanished_upstream_too(upstream: MailServer) -> None:
    with running(relaying(upstream)) as relay, api_of(relay) as api, api_of(upstream) as up:
        up.post("/api/faults", json={"stage": "rcpt", "code": 451})
        send(relay)
        message_id = latest_id(api)
        response = api.post(f"/api/messages/{message_id}/release", json={})
        assert response.status_code == 502
        assert (response.json()["result"], response.json()["code"]) == ("deferred", 451)
        up.delete("/api/faults")
        up.post("/api/faults", json={"stage": "mail", "action": "disconnect"})
        response = api.post(f"/api/messages/{message_id}/release", json={})
        assert response.status_code == 502
        assert response.json()["result"] == "deferred" and response.json()["code"] is None


def test_allow_and_deny_lists_refuse_with_403_naming_the_recipients(upstream: MailServer) -> None:
    config = relaying(upstream, relay_allow=("*@mycompany.example",), relay_deny=("ceo@*",))
    with running(config) as relay, api_of(relay) as api, api_of(upstream) as up:
        send(relay)
        message_id = latest_id(api)
        response = api.post(
            f"/api/messages/{message_id}/release", json={"to": ["ann@example.com", "ceo@mycompany.example"]}
        )
        assert response.status_code == 403
        assert "ann@example.com" in response.json()["error"]
        assert "ceo@mycompany.example" in response.json()["error"]
        ok = api.post(f"/api/messages/{message_id}/release", json={"to": ["Dev@MyCompany.example"]})
        assert ok.status_code == 200
        assert len(wait_until(lambda: messages(up), what="the allowed release")) == 1


@pytest.mark.parametrize(
    "to",
    [
        ["ann@example.com\r\nRCPT TO:<evil@example.com>"],
        ["ann@example.com>\nDATA"],
        ["no-at-sign"],
        ["two@@example.com"],
        ["<ann@example.com>"],
        [],
        "ann@example.com",
        [42],
    ],
)
def test_bad_recipients_are_a_400_and_nothing_is_sent(upstream: MailServer, to: object) -> None:
    with running(relaying(upstream)) as relay, api_of(relay) as api, api_of(upstream) as up:
        send(relay)
        message_id = latest_id(api)
        response = api.post(f"/api/messages/{message_id}/release", json={"to": to})
        assert response.status_code == 400, response.text
        assert response.json()["error"]
        assert up.get("/api/sessions").json()["total"] == 0


def test_without_relay_a_release_is_a_409_naming_the_flag() -> None:
    with running(free_config()) as server, api_of(server) as api:
        send(server)
        response = api.post(f"/api/messages/{latest_id(api)}/release", json={})
        assert response.status_code == 409
        assert "--relay" in response.json()["error"]
        assert api.get("/api/relay/queue").status_code == 409


def test_unknown_message_is_a_404(upstream: MailServer) -> None:
    with running(relaying(upstream)) as relay, api_of(relay) as api:
        response = api.post("/api/messages/nope/release", json={})
        assert response.status_code == 404


def test_release_event_on_the_websocket(upstream: MailServer) -> None:
    with running(relaying(upstream)) as relay, api_of(relay) as api:
        send(relay)
        message_id = latest_id(api)
        assert relay.addresses is not None
        with connect(relay.addresses.url.replace("http://", "ws://") + "/api/ws", open_timeout=30) as ws:
            api.post(f"/api/messages/{message_id}/release", json={})
            while True:
                frame = json.loads(ws.recv(timeout=30))
                if frame["type"] == "message.released":
                    break
        assert frame["data"]["id"] == message_id
        assert frame["data"]["release"]["result"] == "sent"


def test_overrides_of_sender_and_return_path(upstream: MailServer) -> None:
    config = relaying(upstream, relay_mail_from="bounces@real.example", relay_return_path="rp@real.example")
    with running(config) as relay, api_of(relay) as api, api_of(upstream) as up:
        send(relay)
        record = api.post(f"/api/messages/{latest_id(api)}/release", json={}).json()
        assert record["mail_from"] == "bounces@real.example"
        arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
        assert arrived["envelope"]["mail_from"] == "bounces@real.example"
        raw = up.get(f"/api/messages/{arrived['id']}/raw").content
        assert raw.startswith(b"Return-Path: <rp@real.example>\r\nReceived: ")
        assert raw.endswith(RAW)


def test_releases_survive_a_restart_with_sqlite(upstream: MailServer, tmp_path: Path) -> None:
    config = relaying(upstream, db=tmp_path / "mail.db")
    with running(config) as relay, api_of(relay) as api:
        send(relay)
        message_id = latest_id(api)
        assert api.post(f"/api/messages/{message_id}/release", json={}).status_code == 200
    with running(config) as relay, api_of(relay) as api:
        releases = api.get(f"/api/messages/{message_id}").json()["releases"]
        assert [(r["result"], r["code"]) for r in releases] == [("sent", 250)]
        assert releases[0]["transcript"][0]["line"].startswith("220 ")


def test_a_large_8bit_message_arrives_byte_for_byte(upstream: MailServer) -> None:
    line = ".dots lead, and 8-bit text: café ünïcode\r\n".encode()
    raw = b"From: a@example.com\r\nTo: ann@example.com\r\nSubject: big\r\n\r\n" + line * 60_000  # ~2.7 MB
    with running(relaying(upstream)) as relay, api_of(relay) as api, api_of(upstream) as up:
        send(relay, raw=raw)
        record = api.post(f"/api/messages/{latest_id(api)}/release", json={}).json()
        assert record["result"] == "sent", record
        mail_from = next(c for c in record["transcript"] if c["line"].startswith("MAIL FROM"))["line"]
        assert "BODY=8BITMIME" in mail_from
        arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
        assert up.get(f"/api/messages/{arrived['id']}/raw").content.endswith(raw)


def test_a_user_confined_to_other_mailboxes_cannot_release_or_see_the_queue(
    upstream: MailServer, tmp_path: Path
) -> None:
    users = tmp_path / "users"
    users.write_text("admin:pw1\nann:pw2\n")
    config = relaying(
        upstream,
        ui_auth=users,
        mailbox_access=(MailboxAccess("ann", ("elsewhere",)),),
        relay_auto="",
    )
    with api_of(upstream) as up:
        up.post("/api/faults", json={"stage": "data", "code": 554, "times": 1})
    with running(config) as relay, api_of(relay) as api:
        api.auth = ("admin", "pw1")
        send(relay)
        message_id = latest_id(api)
        wait_until(lambda: api.get("/api/relay/queue").json()["items"], what="the failed relay")
        api.auth = ("ann", "pw2")
        assert api.post(f"/api/messages/{message_id}/release", json={}).status_code == 404
        assert api.get("/api/relay/queue").json()["items"] == []
        api.auth = ("admin", "pw1")
        item_id = api.get("/api/relay/queue").json()["items"][0]["id"]
        api.auth = ("ann", "pw2")
        assert api.post(f"/api/relay/queue/{item_id}/retry").status_code == 404
        assert api.delete(f"/api/relay/queue/{item_id}").status_code == 404
        api.auth = ("admin", "pw1")
        assert api.post(f"/api/messages/{message_id}/release", json={}).status_code == 200
