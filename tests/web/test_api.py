"""The JSON API over real HTTP: contracts, validation and errors (never a 500)."""

from __future__ import annotations

import threading
import time

import httpx
import jsonschema
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.events import Event
from mailtrap_lite.web import openapi
from tests.e2e.helpers import reply_of, send, simple_message


def deliver(smtp_address: tuple[str, int], subject: str, to: str = "ann@example.com") -> str:
    code, text = reply_of(smtp_address, simple_message(subject=subject, to=to).as_bytes())
    assert code == 250
    return text.rsplit(b" ", 1)[1].decode()


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/api/messages?limit=0", "limit must be between"),
        ("/api/messages?limit=abc", "limit must be a whole number"),
        ("/api/messages?offset=-1", "offset must be between"),
        ("/api/messages?q=%22unclosed", "unterminated quote"),
        ("/api/messages?q=nosuchfield:x", "unknown field"),
        ("/api/sessions?limit=100000", "limit must be between"),
        ("/api/messages/wait?timeout=forever", "timeout must be a number"),
    ],
)
def test_bad_parameters_are_400_with_a_json_error(api: httpx.Client, path: str, fragment: str) -> None:
    response = api.get(path)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/messages/nope"),
        ("GET", "/api/messages/latest"),
        ("GET", "/api/messages/nope/raw"),
        ("GET", "/api/messages/nope/session"),
        ("GET", "/api/messages/nope/parts/1"),
        ("DELETE", "/api/messages/nope"),
        ("GET", "/api/sessions/nope"),
        ("GET", "/api/no-such-route"),
    ],
)
def test_unknown_things_are_404_json(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 404
    assert response.json()["error"]


def test_wrong_method_is_405_json(api: httpx.Client) -> None:
    response = api.put("/api/messages")
    assert response.status_code == 405
    assert "not allowed" in response.json()["error"]


def test_list_paging_and_totals(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    ids = [deliver(smtp_address, f"message {n}") for n in range(5)]
    page = api.get("/api/messages", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and page["count"] == 2 and page["unread"] == 5
    assert [m["id"] for m in page["messages"]] == [ids[3], ids[2]]  # newest first


def test_search_and_delete_matching(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    deliver(smtp_address, "Welcome aboard", to="ann@example.com")
    deliver(smtp_address, "Your invoice", to="bob@example.com")
    deliver(smtp_address, "Welcome back", to="bob@example.com")
    found = api.get("/api/messages", params={"q": "subject:welcome to:bob"}).json()
    assert [m["subject"] for m in found["messages"]] == ["Welcome back"]
    deleted = api.delete("/api/messages", params={"q": "subject:welcome"}).json()
    assert deleted["deleted"] == 2
    assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["Your invoice"]
    assert api.delete("/api/messages").json()["deleted"] == 1
    assert api.get("/api/messages").json()["total"] == 0


def test_mark_read_and_tags(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    message_id = deliver(smtp_address, "read me")
    updated = api.patch(f"/api/messages/{message_id}", json={"read": True, "tags": ["signup"]}).json()
    assert updated["read"] is True and updated["tags"] == ["signup"]
    assert api.get("/api/messages").json()["unread"] == 0
    assert api.get("/api/messages", params={"q": "is:read tag:signup"}).json()["total"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"read": "yes"}',
        b'{"tags": "a"}',
        b'{"colour": "red"}',
        b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's recursion limit
        b'{"tags": [' + b'"t", ' * 20_000 + b'"t"]}',  # larger than any real body
        b'{"tags": ["\\ud800"]}',  # a lone surrogate: valid JSON, but no text
    ],
    ids=["not-json", "array", "read", "tags", "unknown", "deep", "huge", "surrogate"],
)
def test_bad_patch_bodies_are_400(smtp_address: tuple[str, int], api: httpx.Client, body: bytes) -> None:
    message_id = deliver(smtp_address, "patch me")
    response = api.patch(
        f"/api/messages/{message_id}", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert api.get("/api/messages").status_code == 200  # nothing bad was stored


def test_a_fault_rule_with_a_lone_surrogate_is_refused(api: httpx.Client) -> None:
    body = b'{"stage": "rcpt", "code": 550, "message": "x\\udfff"}'
    response = api.post("/api/faults", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "surrogate" in response.json()["error"]
    assert api.get("/api/faults").json() == {"faults": []}


def test_delete_one(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    message_id = deliver(smtp_address, "bye")
    assert api.delete(f"/api/messages/{message_id}").status_code == 204
    assert api.get(f"/api/messages/{message_id}").status_code == 404


def test_attachment_part_download(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    message = simple_message(subject="invoice")
    pdf = b"%PDF-1.4 fake but bytes\x00\x01\x02"
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="invoice.pdf")
    send(smtp_address, message.as_bytes())
    full = api.get("/api/messages/latest").json()
    assert full["attachments"] and full["attachments"][0]["filename"] == "invoice.pdf"
    attachment = full["attachments"][0]
    response = api.get(f"/api/messages/{full['id']}/parts/{attachment['part_id']}")
    assert response.content == pdf
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert api.get("/api/messages", params={"q": "has:attachment"}).json()["total"] == 1


def test_stats_health_and_metrics(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    deliver(smtp_address, "counted")
    stats = api.get("/api/stats").json()
    assert stats["messages"] == 1 and stats["store"] == "memory" and stats["received_total"] == 1
    assert stats["version"]
    assert api.get("/livez").json() == {"status": "ok"}
    assert api.get("/readyz").status_code == 200
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "mailtrap_messages_received_total 1" in metrics.text
    assert "mailtrap_messages_stored 1" in metrics.text
    assert "# TYPE mailtrap_smtp_sessions_total counter" in metrics.text


def test_openapi_describes_every_route(server: MailServer, api: httpx.Client) -> None:
    document = api.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    from starlette.routing import Route

    from mailtrap_lite.web.app import create_app
    from mailtrap_lite.web.context import WebContext

    app = create_app(WebContext(server.service, server.config, server.version))
    for route in app.routes:
        if isinstance(route, Route):
            for method in (route.methods or set()) - {"HEAD"}:
                assert method.lower() in document["paths"].get(route.path_format, {}), (method, route.path)
    assert set(document["paths"]) >= set(openapi.PATHS)


def test_405_allows_every_method_of_the_path(api: httpx.Client) -> None:
    # Starlette answers from the first route of a path split over several; RFC 9110 §15.5.6 wants them all.
    response = api.request("OPTIONS", "/api/messages/x")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    assert api.put("/api/faults").headers["allow"] == "DELETE, GET, HEAD, POST"
    # /api/messages/wait also fits /api/messages/{id}, but it is a path of its own.
    assert api.post("/api/messages/wait").headers["allow"] == "GET, HEAD"


def test_plain_http_on_the_websocket_is_426(api: httpx.Client) -> None:
    response = api.get("/api/ws")
    assert response.status_code == 426
    assert "websocket" in response.json()["error"]


BODY_EXAMPLES = [
    ("/api/messages/{id}", "patch", {"read": True, "tags": ["a"]}, True),
    ("/api/messages/{id}", "patch", {}, True),
    ("/api/messages/{id}", "patch", {"colour": "red"}, False),
    ("/api/messages/{id}", "patch", {"read": "yes"}, False),
    ("/api/faults", "post", {"stage": "rcpt", "code": 550, "match": "bounce@*", "times": 2}, True),
    ("/api/faults", "post", {"stage": "data", "action": "disconnect"}, True),
    ("/api/faults", "post", {"stage": "mail", "action": "delay", "delay_ms": 5}, True),
    ("/api/faults", "post", {"stage": "mail", "code": 451.0, "delay_ms": 1873.0}, True),
    ("/api/faults", "post", {"stage": "helo", "code": 400, "enhanced": None, "match": "", "times": 1}, True),
    ("/api/faults", "post", {"stage": "data", "action": None, "code": 451, "message": None}, True),
    ("/api/faults", "post", {"stage": "data", "action": "disconnect", "code": None}, True),
    ("/api/faults", "post", {"stage": "data", "action": "disconnect", "message": ""}, False),
    ("/api/faults", "post", {"stage": "rcpt", "code": None}, False),
    ("/api/faults", "post", {"stage": "rcpt"}, False),
    ("/api/faults", "post", {"stage": "rcpt", "code": 550, "bogus": 1}, False),
    ("/api/faults", "post", {"stage": "data", "action": "disconnect", "code": 550}, False),
    ("/api/faults", "post", {"stage": "data", "action": "delay"}, False),
    ("/api/faults", "post", {"stage": "rcpt", "code": 550, "message": "a\r\n250 ok"}, False),
    ("/api/faults", "post", {"stage": "rcpt", "code": 550, "times": 0}, False),
]


@pytest.mark.parametrize(("path", "method", "body", "valid"), BODY_EXAMPLES)
def test_openapi_body_schemas_agree_with_the_server(
    smtp_address: tuple[str, int], api: httpx.Client, path: str, method: str, body: object, valid: bool
) -> None:
    document = api.get("/api/openapi.json").json()
    operation = document["paths"][path][method]
    assert operation["requestBody"]["required"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
    assert validator.is_valid(body) == valid
    url = path.replace("{id}", deliver(smtp_address, "body") if "{id}" in path else "")
    response = api.request(method.upper(), url, json=body)
    assert response.is_success == valid, response.text
    if valid and method == "post":  # the rule as the server answers it fits the response schema too
        rule_schema = {**operation["responses"]["201"]["content"]["application/json"]["schema"]}
        jsonschema.validate(response.json(), {**rule_schema, "components": document["components"]})


def test_wait_returns_when_a_message_arrives(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    import threading

    timer = threading.Timer(0.3, deliver, args=(smtp_address, "awaited"))
    timer.start()
    response = api.get("/api/messages/wait", params={"q": "subject:awaited", "timeout": 20})
    timer.join()
    assert response.status_code == 200
    assert response.json()["messages"][0]["subject"] == "awaited"


def test_wait_times_out_with_408_listing_what_matched(api: httpx.Client) -> None:
    response = api.get("/api/messages/wait", params={"q": "subject:never", "timeout": 0.2})
    assert response.status_code == 408
    assert "timed out" in response.json()["error"]


def test_wait_survives_a_burst_that_overflows_its_subscription(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    server.hub.queue_size = 2
    result: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: result.append(api.get("/api/messages/wait", params={"timeout": 20})), daemon=True
    )
    waiter.start()
    deadline = time.monotonic() + 10
    while server.hub.subscriber_count == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert server.loop is not None
    server.loop.call_soon_threadsafe(
        lambda: [server.hub.publish(Event("message.new", None)) for _ in range(10)]
    )
    time.sleep(0.3)  # the waiter drains the burst, finds nothing stored, and must still be listening
    deliver(smtp_address, "after the burst")
    waiter.join(15)
    assert result and result[0].status_code == 200
    assert result[0].json()["messages"][0]["subject"] == "after the burst"


@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT", "PATCH"])
def test_an_api_path_nothing_serves_is_404_for_every_method(api: httpx.Client, method: str) -> None:
    # Only the UI's files answer there, and their 405 used to come with an empty Allow.
    response = api.request(method, "/api/no/such/thing", headers={"Content-Type": "application/json"})
    assert response.status_code == 404, response.text
    assert "allow" not in response.headers
    assert response.json()["error"] == "no such path: /api/no/such/thing"


def test_a_ui_page_allows_get_and_head(api: httpx.Client) -> None:
    response = api.delete("/index.html")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
