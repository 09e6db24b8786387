"""--ui-auth: HTTP basic auth on the page, the API, the preview and the websocket."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.helpers import send, simple_message

USER, PASSWORD = "admin", "s3cret:with colon"


@pytest.fixture
def server_config() -> Config:
    return free_config(ui_auth=(USER, PASSWORD))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


REFUSED = [
    None,
    basic(USER, "wrong"),
    basic("other", PASSWORD),
    "Basic !!!notbase64",
    "Bearer abc",
    basic(USER, ""),
]


def test_refused_without_the_right_credentials(api: httpx.Client) -> None:
    for path in ["/", "/app.js", "/api/messages", "/api/stats", "/api/messages/x/html", "/nope"]:
        for authorization in REFUSED:
            headers = {"Authorization": authorization} if authorization else {}
            response = api.get(path, headers=headers)
            assert response.status_code == 401, (path, authorization)
            assert response.json() == {"error": "authentication required"}
            assert response.headers["www-authenticate"].startswith('Basic realm="mailtrap-lite"')


def test_allowed_with_them(api: httpx.Client, smtp_address: tuple[str, int]) -> None:
    auth = {"Authorization": basic(USER, PASSWORD)}
    assert api.get("/", headers=auth).status_code == 200
    send(smtp_address, simple_message(subject="secret stuff").as_bytes())
    assert api.get("/api/messages", headers=auth).json()["messages"][0]["subject"] == "secret stuff"


def test_websocket_needs_the_credentials(server: MailServer, smtp_address: tuple[str, int]) -> None:
    assert server.addresses is not None
    url = server.addresses.url.replace("http://", "ws://") + "/api/ws"
    for headers in ({}, {"Authorization": basic(USER, "wrong")}):
        with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers=headers):
            pass
        assert refused.value.response.status_code == 403
    with connect(url, additional_headers={"Authorization": basic(USER, PASSWORD)}) as client:
        send(smtp_address, simple_message(subject="pushed").as_bytes())
        frame = json.loads(client.recv(timeout=10))
        assert frame["type"] == "message.new" and frame["data"]["subject"] == "pushed"


def test_health_checks_need_no_credentials(api: httpx.Client) -> None:
    # A container's HEALTHCHECK has no credentials: with --ui-auth it must still see the server healthy.
    assert api.get("/livez").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}
    assert api.get("/metrics").status_code == 401
    assert api.get("/livez/").status_code == 401
