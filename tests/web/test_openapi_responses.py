"""Every route's real answers, success and error, fit the response schema /api/openapi.json declares.

Mail arrives over smtplib (with AUTH, an attachment, an HTML body and a fault rule that refuses a
recipient); then every method of every documented path is called, and every websocket frame is checked.
The server relays to a second mailtrap-lite on loopback, so that releases and the relay queue answer.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.routing import Route, WebSocketRoute
from websockets.sync.client import ClientConnection, connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from mailtrap_lite.web.app import create_app
from mailtrap_lite.web.context import WebContext
from tests.conftest import free_config
from tests.relay.helpers import api_of, relaying, running, wait_until

UNKNOWN = "no-such-id"
QUEUED = "queued for the openapi test"
MAX_MESSAGE_SIZE = 64 * 1024  # small, so that a 413 costs little to provoke


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


@pytest.fixture
def server_config(upstream: MailServer) -> Config:
    return relaying(
        upstream,
        relay_allow=("*@example.com",),
        relay_auto=f'subject:"{QUEUED}"',
        max_message_size=MAX_MESSAGE_SIZE,
    )


class Checker:
    """Validates responses against the document and remembers which (path, method, status) it saw."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.document: dict[str, Any] = api.get("/api/openapi.json").json()
        self.seen: set[tuple[str, str, int]] = set()

    def schema(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}", "components": self.document["components"]}

    def call(self, method: str, path: str, url: str | None = None, **kwargs: Any) -> httpx.Response:
        response = self.api.request(method.upper(), url or path, **kwargs)
        operation = self.document["paths"][path].get(method)
        if operation is None:  # a method the path lacks: 405 with the Error body every error has
            assert response.status_code == 405, (path, method)
            jsonschema.validate(response.json(), self.schema("Error"))
            self.seen.add((path, method, 405))
            return response
        responses = operation["responses"]
        declared = responses.get(str(response.status_code)) or responses["default"]
        assert str(response.status_code) in responses or response.status_code >= 400, response.text
        content = declared.get("content", {})
        media_type = response.headers.get("content-type", "").split(";")[0]
        if "application/json" in content:
            assert media_type == "application/json", (path, method, response.status_code)
            schema = content["application/json"]["schema"]
            jsonschema.validate(response.json(), {**schema, "components": self.document["components"]})
        elif content:
            assert media_type in content or "application/octet-stream" in content, (path, media_type)
        else:
            assert response.content == b"", (path, method, response.status_code)
        self.seen.add((path, method, response.status_code))
        return response

    def frame(self, text: str | bytes) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(text)
        jsonschema.validate(data, self.schema("Event"))
        return data


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, methods in document["paths"].items() for method in methods}


def served(server: MailServer) -> set[tuple[str, str]]:
    app = create_app(WebContext(server.service, server.config, server.version))
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            found.add((route.path, "get"))
        elif isinstance(route, Route):
            found |= {(route.path_format, m.lower()) for m in route.methods or () if m != "HEAD"}
    return found


def send_mail(smtp_address: tuple[str, int]) -> set[str]:
    """Sends one message with AUTH, an HTML body and an attachment; returns the refused recipients."""
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = "ann@example.com, bounce@example.com"
    message["Subject"] = "Invoice"
    message.set_content("Your invoice: https://example.com/i/1\n")
    message.add_alternative("<p>Your <b>invoice</b></p>", subtype="html")
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf")
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.login("ann", "secret")
        return set(client.send_message(message))


def fault_upstream(upstream: MailServer, **rule: Any) -> None:
    with api_of(upstream) as up:
        assert up.post("/api/faults", json=rule).status_code == 201


def failed_relay(checker: Checker, upstream: MailServer, smtp_address: tuple[str, int]) -> str:
    """Sends a message --relay-auto takes while the upstream refuses it; returns its failed queue item."""
    fault_upstream(upstream, stage="data", code=554, times=1)
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.sendmail("app@example.com", ["ann@example.com"], f"Subject: {QUEUED}\r\n\r\nx\r\n")

    def failed() -> list[dict[str, Any]]:
        items = checker.call("get", "/api/relay/queue").json()["items"]
        return [item for item in items if item["state"] == "failed"]

    item_id: str = wait_until(failed, what="a failed relay")[0]["id"]
    return item_id


def check_relay_routes(
    checker: Checker,
    ws: ClientConnection,
    upstream: MailServer,
    smtp_address: tuple[str, int],
    message_id: str,
) -> None:
    release = "/api/messages/{id}/release"
    url = f"/api/messages/{message_id}/release"
    assert checker.call("post", release, url, json={"to": ["ann@example.com"]}).status_code == 200
    assert receive_until(ws, checker, "message.released")["data"]["id"] == message_id
    assert checker.call("post", release, url).json()["to"] == ["ann@example.com"]  # no body: the envelope's
    checker.call("post", release, url, json={"to": ["ann@example.com\r\nDATA"]})
    checker.call("post", release, url, json={"to": ["eve@elsewhere.test"]})
    checker.call("post", release, f"/api/messages/{UNKNOWN}/release", json={})
    fault_upstream(upstream, stage="data", code=554, times=1)
    assert checker.call("post", release, url, json={}).status_code == 502
    retry, drop = "/api/relay/queue/{id}/retry", "/api/relay/queue/{id}"
    item = failed_relay(checker, upstream, smtp_address)
    assert checker.call("post", retry, f"/api/relay/queue/{item}/retry").json()["state"] == "queued"
    item = failed_relay(checker, upstream, smtp_address)
    checker.call("delete", drop, f"/api/relay/queue/{item}")
    checker.call("post", retry, f"/api/relay/queue/{UNKNOWN}/retry")
    checker.call("delete", drop, f"/api/relay/queue/{UNKNOWN}")
    checker.call("delete", "/api/messages", params={"q": f'subject:"{QUEUED}"'})
    assert len(receive_until(ws, checker, "message.deleted")["data"]["ids"]) == 2


def receive_until(ws: ClientConnection, checker: Checker, kind: str) -> dict[str, Any]:
    while True:
        data = checker.frame(ws.recv(timeout=30))
        if data["type"] == kind:
            return data


def test_every_route_answers_what_the_document_says(
    server: MailServer, api: httpx.Client, smtp_address: tuple[str, int], upstream: MailServer
) -> None:
    checker = Checker(api)
    assert documented(checker.document) == served(server)
    assert server.addresses is not None
    ws_url = server.addresses.url.replace("http://", "ws://") + "/api/ws"
    with connect(ws_url, open_timeout=30) as ws:
        ws.send(json.dumps({"subscribe": ""}))
        assert receive_until(ws, checker, "subscribed")["data"] == {"q": "", "mailbox": None}
        ws.send(json.dumps({"type": "ping"}))
        receive_until(ws, checker, "pong")
        ws.send("not json")
        receive_until(ws, checker, "error")

        rule = checker.call("post", "/api/faults", json={"stage": "rcpt", "code": 550, "match": "bounce@*"})
        assert rule.status_code == 201
        assert send_mail(smtp_address) == {"bounce@example.com"}
        new = receive_until(ws, checker, "message.new")["data"]
        ended = receive_until(ws, checker, "session.ended")["data"]
        assert "transcript" not in ended and ended["auth"]["username"] == "ann"
        message_id = new["id"]

        full = checker.call("get", "/api/messages/{id}", f"/api/messages/{message_id}").json()
        assert full["attachments"][0]["filename"] == "invoice.pdf"
        part = full["attachments"][0]["part_id"]
        session = checker.call("get", "/api/messages/{id}/session", f"/api/messages/{message_id}/session")
        transcript = session.json()["transcript"]
        assert any(line["fault_id"] == rule.json()["id"] for line in transcript)
        by_id = checker.call("get", "/api/sessions/{id}", f"/api/sessions/{session.json()['id']}")
        assert by_id.json()["message_ids"] == [message_id]

        for path in ("/api/messages", "/api/sessions"):
            checker.call("get", path)
            checker.call("get", path, params={"limit": "0"})
        checker.call("get", "/api/messages", params={"q": "before:nonsense"})
        checker.call("get", "/api/webhooks")
        checker.call("get", "/api/messages/wait", params={"q": "subject:invoice"})
        checker.call("get", "/api/messages/wait", params={"count": "x"})
        checker.call("get", "/api/messages/wait", params={"q": "subject:never", "timeout": "0.1"})
        for suffix in ("", "/raw", "/html", "/session", "/parts/{part_id}"):
            path = "/api/messages/{id}" + suffix
            checker.call("get", path, f"/api/messages/{message_id}{suffix}".replace("{part_id}", part))
            checker.call("get", path, f"/api/messages/{UNKNOWN}{suffix}".replace("{part_id}", part))
        checker.call("get", "/api/messages/{id}/parts/{part_id}", f"/api/messages/{message_id}/parts/9.9")
        checker.call("get", "/api/messages/{id}/html", f"/api/messages/{message_id}/html?remote=2")
        checker.call("get", "/api/sessions/{id}", f"/api/sessions/{UNKNOWN}")

        checker.call("patch", "/api/messages/{id}", f"/api/messages/{message_id}", json={"read": True})
        assert receive_until(ws, checker, "message.updated")["data"]["read"] is True
        checker.call("patch", "/api/messages/{id}", f"/api/messages/{message_id}", json={"read": 1})
        checker.call("patch", "/api/messages/{id}", f"/api/messages/{UNKNOWN}", json={"read": True})

        mailboxes = checker.call("get", "/api/mailboxes").json()["mailboxes"]
        assert [(m["name"], m["total"], m["unread"]) for m in mailboxes] == [("default", 1, 0)]
        marked = checker.call("post", "/api/messages/unread", json={"mailbox": "default"}).json()
        assert marked == {"read": False, "changed": 1, "ids": [message_id]}
        assert receive_until(ws, checker, "messages.updated")["data"] == {"ids": [message_id], "read": False}
        checker.call("post", "/api/messages/read", json={"ids": [message_id]})
        for path in ("/api/messages/read", "/api/messages/unread"):
            checker.call("post", path, json={"ids": [UNKNOWN]})
            checker.call("post", path, json={"query": 5})
        listed = checker.call("get", "/api/sessions", params={"mailbox": "Default"}).json()
        assert [s["message_ids"] for s in listed["sessions"]] == [[message_id]]
        checker.call(
            "patch", "/api/messages/{id}", f"/api/messages/{message_id}", json={"tags": [" Billing"]}
        )
        assert receive_until(ws, checker, "message.updated")["data"]["tags"] == ["billing"]
        checker.call(
            "patch", "/api/messages/{id}", f"/api/messages/{message_id}", json={"tags": ["x" * 10_000]}
        )
        checker.call("get", "/api/tags", params={"mailbox": "default"})
        checker.call("get", "/api/tags", params={"q": "before:nonsense"})
        renamed = checker.call("put", "/api/tags/{tag}", "/api/tags/Billing", json={"name": "invoices"})
        assert renamed.json() == {"changed": 1, "ids": [message_id]}
        assert receive_until(ws, checker, "messages.tagged")["data"]["add"] == ["invoices"]
        checker.call("put", "/api/tags/{tag}", "/api/tags/invoices", json={"name": "a,b"})
        checker.call("put", "/api/tags/{tag}", f"/api/tags/{UNKNOWN}", json={"name": "x"})
        bulk = {"query": "subject:invoice", "add": ["paid"], "remove": ["invoices"]}
        assert checker.call("post", "/api/messages/tags", json=bulk).json()["changed"] == 1
        receive_until(ws, checker, "messages.tagged")
        checker.call("post", "/api/messages/tags", json={"query": None, "add": ["bad\x00tag"]})
        checker.call("delete", "/api/tags/{tag}", "/api/tags/paid")
        checker.call("delete", "/api/tags/{tag}", "/api/tags/paid")
        checker.call("delete", "/api/tags/{tag}", "/api/tags/" + "x" * 65)

        for path in ("/api/stats", "/api/faults", "/api/openapi.json", "/livez", "/readyz", "/metrics"):
            checker.call("get", path)
        checker.call("get", "/api/ws")
        checker.call("post", "/api/faults", json={"stage": "nowhere"})
        checker.call("delete", "/api/faults/{id}", f"/api/faults/{rule.json()['id']}")
        checker.call("delete", "/api/faults/{id}", f"/api/faults/{UNKNOWN}")
        checker.call("delete", "/api/faults")

        check_relay_routes(checker, ws, upstream, smtp_address, message_id)

        checker.call("delete", "/api/messages/{id}", f"/api/messages/{message_id}")
        assert receive_until(ws, checker, "message.deleted")["data"] == {"ids": [message_id]}
        checker.call("delete", "/api/messages/{id}", f"/api/messages/{UNKNOWN}")
        send_mail(smtp_address)
        receive_until(ws, checker, "message.new")
        rfc822 = {"Content-Type": "message/rfc822"}
        posted = checker.call(
            "post", "/api/messages", content=b"To: a@example.com\r\n\r\nhi\r\n", headers=rfc822
        )
        assert posted.status_code == 201
        checker.call("post", "/api/messages", content=b"Subject: nobody\r\n\r\n", headers=rfc822)
        checker.call("post", "/api/messages", content=b"x" * (MAX_MESSAGE_SIZE + 1), headers=rfc822)
        checker.call("delete", "/api/messages/{id}", f"/api/messages/{posted.json()['id']}")
        checker.call("delete", "/api/messages", params={"q": "larger:x"})
        checker.call("delete", "/api/messages")
        assert len(receive_until(ws, checker, "messages.cleared")["data"]["ids"]) == 1

    exercise_compat(checker, smtp_address, upstream)

    for path, methods in checker.document["paths"].items():
        url = path.replace("{id}", UNKNOWN).replace("{part_id}", "1").replace("{tag}", UNKNOWN)
        checker.call(_lacking(methods), path, url)
        for method in methods:
            # The guard's answers: a Host the server does not serve, a foreign Origin, a body not JSON.
            checker.call(method, path, url, headers={"Host": "rebind.attacker.example"})
            if method in ("post", "put", "patch", "delete"):
                checker.call(method, path, url, headers={"Origin": "http://attacker.example"})
            if "requestBody" in methods[method]:
                checker.call(method, path, url, content=b"{}", headers={"Content-Type": "text/plain"})

    # Every documented answer was seen, except those this server cannot give here: the websocket's
    # handshake answers (checked through the frames above), a store that cannot write, and the relay
    # routes' 409 of a server without --relay (the next test).
    untested = {"101", "403", "503", "409"}
    for path, method in documented(checker.document):
        responses = checker.document["paths"][path][method]["responses"]
        wanted = {int(status) for status in responses if status.isdigit() and status not in untested}
        seen = {status for p, m, status in checker.seen if (p, m) == (path, method)}
        assert wanted <= seen, (path, method, wanted - seen)
        lacking = _lacking(checker.document["paths"][path])
        assert 405 in {status for p, m, status in checker.seen if (p, m) == (path, lacking)}, path


def exercise_compat(checker: Checker, smtp_address: tuple[str, int], upstream: MailServer) -> None:
    """Every Mailpit- and MailHog-compatible route, with good input and bad."""
    send_mail(smtp_address)
    listed = checker.call("get", "/api/v1/messages").json()
    message_id = listed["messages"][0]["ID"]
    checker.call("get", "/api/v1/messages", params={"limit": "0"})
    found = checker.call("get", "/api/v1/search", params={"query": 'subject:"invoice" -is:read'}).json()
    assert found["messages_count"] == 1
    checker.call("get", "/api/v1/search")
    checker.call("get", "/api/v1/search", params={"query": "reply-to:x"})
    checker.call("get", "/api/v1/search", params={"query": "after:2026-01-01", "tz": "Nowhere/City"})
    full = checker.call("get", "/api/v1/message/{id}", f"/api/v1/message/{message_id}").json()
    part = full["Attachments"][0]["PartID"]
    for suffix in ("", "/headers", "/raw", "/part/{part_id}"):
        path = "/api/v1/message/{id}" + suffix
        checker.call("get", path, f"/api/v1/message/{message_id}{suffix}".replace("{part_id}", part))
        checker.call("get", path, f"/api/v1/message/{UNKNOWN}{suffix}".replace("{part_id}", part))
    for suffix in ("html", "txt", "raw"):
        checker.call("get", f"/view/{{id}}.{suffix}", f"/view/{message_id}.{suffix}")
        checker.call("get", f"/view/{{id}}.{suffix}", f"/view/{UNKNOWN}.{suffix}")
    preview = checker.call("get", "/view/{id}.html", f"/view/{message_id}.html?remote=1")
    assert preview.headers["location"] == f"../api/messages/{message_id}/html?remote=1"
    checker.call("put", "/api/v1/messages", json={"IDs": [message_id], "Read": False})
    checker.call("put", "/api/v1/messages", json={"Read": "yes"})
    checker.call("put", "/api/v1/tags", json={"IDs": [message_id], "Tags": ["invoices"]})
    checker.call("put", "/api/v1/tags", json={"IDs": "all"})
    assert checker.call("get", "/api/v1/tags").json() == ["invoices"]
    assert checker.call("get", "/api/v1/info").json()["Tags"] == {"invoices": 1}
    checker.call("put", "/api/v1/tags/{tag}", "/api/v1/tags/invoices", json={"Name": "Bills"})
    checker.call("put", "/api/v1/tags/{tag}", "/api/v1/tags/bills", json={"Name": ""})
    checker.call("put", "/api/v1/tags/{tag}", "/api/v1/tags/never", json={"Name": "x"})
    assert checker.call("get", "/api/v1/tags").json() == ["bills"]  # tags are stored lower-cased
    checker.call("delete", "/api/v1/tags/{tag}", "/api/v1/tags/BILLS")
    checker.call("delete", "/api/v1/tags/{tag}", "/api/v1/tags/BILLS")
    assert checker.call("get", "/api/v1/tags").json() == []
    checker.call("get", "/api/v1/webui")
    mailpit_release, mailhog_release = "/api/v1/message/{id}/release", "/api/v1/messages/{id}/release"
    for path, body in (
        (mailpit_release, {"To": ["ann@example.com"]}),
        (mailhog_release, {"Email": "ann@example.com"}),
    ):
        url = path.replace("{id}", message_id)
        assert checker.call("post", path, url, json=body).status_code == 200
        checker.call("post", path, url, json={"To": "ann", "Email": 3})
        checker.call("post", path, url, json={"To": ["eve@elsewhere.test"], "Email": "eve@elsewhere.test"})
        checker.call("post", path, path.replace("{id}", UNKNOWN), json=body)
        fault_upstream(upstream, stage="data", code=554, times=1)
        assert checker.call("post", path, url, json=body).status_code == 502
    assert checker.call("post", mailpit_release, f"/api/v1/message/{message_id}/release").text == "ok"
    elsewhere = {"Email": "ann@example.com", "Host": "smtp.example.com", "Port": "25"}
    refused = checker.call("post", mailhog_release, f"/api/v1/messages/{message_id}/release", json=elsewhere)
    assert "releases only through --relay" in refused.json()["error"]
    sent = {"From": {"Email": "app@example.com"}, "To": [{"Email": "ann@example.com"}], "Text": "Hi"}
    assert checker.call("post", "/api/v1/send", json={**sent, "Tags": ["sent"]}).json()["ID"]
    checker.call("post", "/api/v1/send", json={"From": {"Email": "app@example.com"}})
    checker.call("post", "/api/v1/send", json={**sent, "Text": "x" * MAX_MESSAGE_SIZE})

    hog = checker.call("get", "/api/v2/messages").json()
    assert message_id in [item["ID"] for item in hog["items"]]
    checker.call("get", "/api/v2/messages", params={"start": "-1"})
    checker.call("get", "/api/v2/search", params={"kind": "to", "query": "ann@example.com"})
    checker.call("get", "/api/v2/search", params={"kind": "subject", "query": "x"})
    checker.call("get", "/api/v1/messages/{id}", f"/api/v1/messages/{message_id}")
    checker.call("get", "/api/v1/messages/{id}", f"/api/v1/messages/{UNKNOWN}")
    checker.call("get", "/api/v1/messages/{id}/download", f"/api/v1/messages/{message_id}/download")
    checker.call("get", "/api/v1/messages/{id}/download", f"/api/v1/messages/{UNKNOWN}/download")
    checker.call("delete", "/api/v1/messages/{id}", f"/api/v1/messages/{message_id}")
    checker.call("delete", "/api/v1/messages/{id}", f"/api/v1/messages/{message_id}")

    send_mail(smtp_address)
    checker.call("delete", "/api/v1/search", params={"query": ""})
    checker.call("delete", "/api/v1/search", params={"query": "subject:invoice"})
    send_mail(smtp_address)
    checker.call("delete", "/api/v1/messages", json={"IDs": "x"})
    checker.call("delete", "/api/v1/messages")
    assert checker.call("get", "/api/v1/messages").json()["total"] == 0


def _lacking(methods: dict[str, Any]) -> str:
    """A method the path does not have."""
    return "put" if "put" not in methods else "post"


def test_relay_routes_without_a_relay_answer_409() -> None:
    with running(free_config()) as server, api_of(server) as api:
        checker = Checker(api)
        for method, path in [
            ("post", "/api/messages/{id}/release"),
            ("get", "/api/relay/queue"),
            ("post", "/api/relay/queue/{id}/retry"),
            ("delete", "/api/relay/queue/{id}"),
            ("post", "/api/v1/message/{id}/release"),
            ("post", "/api/v1/messages/{id}/release"),
        ]:
            assert checker.call(method, path, path.replace("{id}", UNKNOWN)).status_code == 409


@pytest.mark.parametrize(
    "name", ["Message", "Session", "FaultRule", "Stats", "MessageSummary", "Release", "RelayQueue"]
)
def test_response_schemas_refuse_unknown_fields(api: httpx.Client, name: str) -> None:
    """A field the server sends but the document lacks fails the validation above."""
    document = api.get("/api/openapi.json").json()
    schema = document["components"]["schemas"][name]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
