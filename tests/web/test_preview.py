"""GET /api/messages/{id}/html over real HTTP, and the headers the UI page is served with."""

from __future__ import annotations

from email.message import EmailMessage

import httpx
import pytest

from tests.e2e.helpers import send, simple_message

STRICT_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "img-src 'self' data:; style-src 'unsafe-inline'; font-src data:"
)
PIXEL = b"\x89PNG\r\n\x1a\n not really but bytes"


def html_message() -> EmailMessage:
    message = simple_message(subject="newsletter")
    message.add_alternative(
        '<html><head></head><body><img src="cid:logo@example.com" alt="logo">'
        '<img src="https://tracker.example/open.gif"><p>Hello</p></body></html>',
        subtype="html",
    )
    message.get_payload()[1].add_related(PIXEL, "image", "png", cid="<logo@example.com>")
    return message


@pytest.fixture
def html_id(smtp_address: tuple[str, int], api: httpx.Client) -> str:
    send(smtp_address, html_message().as_bytes())
    message_id: str = api.get("/api/messages/latest").json()["id"]
    return message_id


def test_preview_is_served_with_the_sandbox_csp(api: httpx.Client, html_id: str) -> None:
    response = api.get(f"/api/messages/{html_id}/html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == STRICT_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-dns-prefetch-control"] == "off"
    assert response.headers["x-blocked-remote"] == "1"
    assert "tracker.example" not in response.text.replace('data-remote-src="https://tracker.example', "")
    assert "<p>Hello</p>" in response.text


def test_cid_images_resolve_to_their_part(api: httpx.Client, html_id: str) -> None:
    full = api.get(f"/api/messages/{html_id}").json()
    (inline,) = full["inline"]
    # Relative to the preview's own URL, so that it also holds under --base-path.
    assert f'src="parts/{inline["part_id"]}"' in api.get(f"/api/messages/{html_id}/html").text
    image = api.get(f"/api/messages/{html_id}/parts/{inline['part_id']}")
    assert image.content == PIXEL and image.headers["content-type"] == "image/png"


def test_remote_content_on_request(api: httpx.Client, html_id: str) -> None:
    response = api.get(f"/api/messages/{html_id}/html", params={"remote": "1"})
    assert 'src="https://tracker.example/open.gif"' in response.text
    assert response.headers["x-blocked-remote"] == "0"
    assert response.headers["x-remote-content"] == "1"
    policy = response.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none';")
    assert "img-src 'self' data: https: http:" in policy


def test_bad_remote_value_is_400(api: httpx.Client, html_id: str) -> None:
    response = api.get(f"/api/messages/{html_id}/html", params={"remote": "yes"})
    assert response.status_code == 400
    assert "remote must be 0 or 1" in response.json()["error"]


def test_no_html_body_or_no_message_is_404(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    assert api.get("/api/messages/nope/html").status_code == 404
    send(smtp_address, simple_message(subject="plain").as_bytes())
    response = api.get("/api/messages/latest/html")
    assert response.status_code == 404
    assert "no HTML body" in response.json()["error"]


def test_the_ui_is_served_with_its_own_strict_policy(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    for module in ("app.js", "api.js", "list.js", "view.js", "panels.js", "live.js", "dom.js", "style.css"):
        response = api.get(f"/{module}")
        assert response.status_code == 200, module
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        api.get("/app.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
    )
