"""The guard on a real server, over real sockets: what is refused, and what programs and the UI still do."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.client import MailtrapClient
from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.helpers import send, simple_message

RULE = {"stage": "rcpt", "code": 550, "match": "bounce@*"}
JSON = {"content-type": "application/json"}


@pytest.fixture
def server_config() -> Config:
    return free_config(trusted_host=("mailtrap",), trusted_origin=("https://mail.example.com",))


def own_origin(server: MailServer) -> str:
    assert server.addresses is not None
    return server.addresses.url


def test_a_foreign_host_is_refused_everywhere(api: httpx.Client, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, simple_message(subject="secret").as_bytes())
    headers = {"host": "rebind.attacker.example"}
    for method, path in [
        ("GET", "/"),
        ("GET", "/api/messages"),
        ("DELETE", "/api/messages"),
        ("GET", "/livez"),
    ]:
        response = api.request(method, path, headers=headers)
        assert response.status_code == 421, (method, path)
        assert "--trusted-host" in response.json()["error"]
    assert api.get("/api/messages").json()["total"] == 1


def test_trusted_and_loopback_hosts_are_served(api: httpx.Client, server: MailServer) -> None:
    assert server.addresses is not None
    port = server.addresses.http.port
    for host in ("mailtrap", f"mailtrap:{port}", f"localhost:{port}", "mail.example.com", f"[::1]:{port}"):
        assert api.get("/api/stats", headers={"host": host}).status_code == 200, host


def test_a_text_plain_body_is_415(api: httpx.Client) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": content_type} if content_type else {}
        response = api.post("/api/faults", content=json.dumps(RULE), headers=headers)
        assert response.status_code == 415, content_type
        assert "application/json" in response.json()["error"]
    assert api.get("/api/faults").json() == {"faults": []}


def test_patch_needs_json_too(api: httpx.Client, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, simple_message().as_bytes())
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    response = api.patch(f"/api/messages/{message_id}", content=b'{"read": true}')
    assert response.status_code == 415
    assert api.patch(f"/api/messages/{message_id}", json={"read": True}).json()["read"] is True


def test_a_foreign_origin_is_403(api: httpx.Client, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, simple_message().as_bytes())
    for origin in ("http://evil.example", "null", "http://localhost:1"):
        headers = {"origin": origin}
        assert api.post("/api/faults", json=RULE, headers=headers).status_code == 403
        response = api.delete("/api/messages", headers=headers)
        assert response.status_code == 403
        assert "--trusted-origin" in response.json()["error"]
    assert api.get("/api/faults").json() == {"faults": []}
    assert api.get("/api/messages").json()["total"] == 1


def test_a_browser_request_without_origin_from_elsewhere_is_403(api: httpx.Client) -> None:
    response = api.post("/api/faults", json=RULE, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert api.get("/api/faults").json() == {"faults": []}


def test_same_origin_trusted_origin_and_programs_may_change_state(
    api: httpx.Client, server: MailServer
) -> None:
    cases = [
        {"origin": own_origin(server), "sec-fetch-site": "same-origin"},
        {"host": "mail.example.com", "origin": "https://mail.example.com"},
        {},  # curl, httpx, the pytest plugin: neither Origin nor Sec-Fetch-Site
    ]
    for headers in cases:
        assert api.post("/api/faults", json=RULE, headers=headers).status_code == 201, headers
    assert len(api.get("/api/faults").json()["faults"]) == len(cases)
    assert api.delete("/api/faults", headers=cases[0]).json() == {"deleted": len(cases)}


def test_a_local_proxy_that_says_https_needs_only_the_trusted_host(api: httpx.Client) -> None:
    # uvicorn takes X-Forwarded-Proto from 127.0.0.1: the request's own origin is then https.
    headers = {"host": "mailtrap", "origin": "https://mailtrap"}
    assert api.post("/api/faults", json=RULE, headers=headers).status_code == 403
    forwarded = {**headers, "x-forwarded-proto": "https"}
    assert api.post("/api/faults", json=RULE, headers=forwarded).status_code == 201


def test_the_http_client_still_adds_and_clears(
    server: MailServer, api: httpx.Client, smtp_address: tuple[str, int]
) -> None:
    client = MailtrapClient(own_origin(server))
    assert client.add_fault(RULE)["code"] == 550
    send(smtp_address, simple_message().as_bytes())
    client.clear()
    client.clear_faults()
    assert client.search()["total"] == 0
    assert api.get("/api/faults").json() == {"faults": []}


def ws_url(server: MailServer) -> str:
    return own_origin(server).replace("http://", "ws://") + "/api/ws"


def test_the_websocket_checks_origin_against_the_allow_list(server: MailServer) -> None:
    url = ws_url(server)
    assert server.addresses is not None
    port = server.addresses.http.port
    rebound_url = f"ws://rebind.attacker.example:{port}/api/ws"
    # The name resolves nowhere: the socket to loopback is made first, as a rebound name would lead there.
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        pytest.raises(InvalidStatus) as rebound,
    ):
        connect(rebound_url, sock=sock, origin=f"http://rebind.attacker.example:{port}")  # type: ignore[arg-type]
    assert rebound.value.response.status_code == 421
    with pytest.raises(InvalidStatus) as foreign:
        connect(url, origin="http://evil.example")  # type: ignore[arg-type]
    assert foreign.value.response.status_code == 403
    for origin in (own_origin(server), "https://mail.example.com", None):
        with connect(url, origin=origin) as client:  # type: ignore[arg-type]
            client.send(json.dumps({"type": "ping"}))
            assert json.loads(client.recv(timeout=10))["type"] == "pong"


def test_the_cli_refuses_a_bad_trusted_origin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailtrap_lite", "--trusted-origin", "mail.example.com"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mailtrap-lite: error: --trusted-origin: expected an origin such as https://mail.example.com:8443, "
        "got 'mail.example.com'"
    ]
