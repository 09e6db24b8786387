"""Behind a real reverse proxy (Debian's nginx) that forwards /mail/ and rewrites Host: --base-path,
--trusted-origin and the websocket upgrade, in headless Chromium; and opt-in CORS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.conftest import free_config
from tests.e2e.browser import CHROMIUM, launch_chromium
from tests.e2e.helpers import send, simple_message
from tests.e2e.test_ui import html_mail

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
if not Path(NGINX).exists():
    if os.environ.get("CI"):
        raise RuntimeError("nginx is missing: .ci/run installs it")
    pytest.skip("nginx is not installed (apt-get install nginx); CI installs it", allow_module_level=True)

NGINX_CONF = """
{user}
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location /mail/ {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            # A proxy that rewrites Host: the server never sees the name the browser used.
            proxy_set_header Host 127.0.0.1:{upstream};
            proxy_buffering off;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Callable[[bool], tuple[MailServer, str]]]:
    """Starts a server under --base-path /mail/ with nginx in front of it, the proxy's origin trusted or
    not; returns the server and the public URL of its page."""
    started: list[tuple[MailServer, subprocess.Popen[bytes]]] = []

    def start(trust_proxy: bool) -> tuple[MailServer, str]:
        port = free_port()
        public = f"http://localhost:{port}"
        trusted = (public,) if trust_proxy else ()
        server = MailServer(free_config(base_path="/mail", trusted_origin=trusted))
        addresses = server.start()
        directory = tmp_path / f"nginx-{port}"
        directory.mkdir()
        conf = directory / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_CONF.format(user=user, dir=directory, port=port, upstream=addresses.http.port))
        process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(conf), "-g", "daemon off;"])
        started.append((server, process))
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, (directory / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        return server, f"{public}/mail/"

    yield start
    for server, process in started:
        process.terminate()
        process.wait(timeout=10)
        server.stop()


def test_the_server_answers_only_under_its_base_path() -> None:
    server = MailServer(free_config(base_path="/mail/"))
    addresses = server.start()
    try:
        assert addresses.url.endswith("/mail")
        with httpx.Client(base_url=f"http://127.0.0.1:{addresses.http.port}", timeout=10) as client:
            assert client.get("/mail/api/messages").json()["total"] == 0
            assert client.get("/mail/readyz").status_code == 200
            redirect = client.get("/mail")
            assert (redirect.status_code, redirect.headers["location"]) == (308, "/mail/")
            outside = client.get("/api/messages")
            assert outside.status_code == 404
            assert "--base-path /mail/" in outside.json()["error"]
            assert "<title>mailtrap-lite</title>" in client.get("/mail/").text
    finally:
        server.stop()


@pytest.mark.slow
def test_the_ui_works_behind_a_proxy_that_rewrites_host(
    proxied: Callable[[bool], tuple[MailServer, str]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium")
    # The browser's origin is the proxy's: only --trusted-origin lets its websocket and deletions through.
    server, page_url = proxied(True)
    assert server.addresses is not None
    smtp = (server.addresses.smtp.host, server.addresses.smtp.port)
    refused_server, refused_url = proxied(False)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(page_url)
            expect(page.locator("#live")).to_have_attribute("data-state", "live")
            send(smtp, html_mail("Through the proxy").as_bytes())
            expect(page.get_by_role("option").filter(has_text="Through the proxy")).to_be_visible()
            page.get_by_role("option").filter(has_text="Through the proxy").click()
            preview = page.frame_locator("iframe.preview")
            expect(preview.locator("#logo")).to_have_js_property("naturalWidth", 1)  # a relative part URL
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Delete", exact=True).click()
            expect(page.locator("#counts")).to_have_text("0 messages · 0 unread")

            other = browser.new_page()
            other.goto(refused_url)
            # Host rewritten, no --trusted-origin: the websocket handshake is refused, so never live.
            expect(other.locator("#live")).not_to_have_attribute("data-state", "live", timeout=3_000)
            assert refused_server.service.subscribers == 0
        finally:
            browser.close()
    send(smtp, simple_message(subject="After").as_bytes())
    assert httpx.get(f"{server.addresses.url}/api/messages", timeout=10).json()["total"] == 1


def test_cors_is_off_unless_an_origin_is_named() -> None:
    server = MailServer(free_config(cors_origin=("http://app.example",)))
    addresses = server.start()
    try:
        with httpx.Client(base_url=addresses.url, timeout=10) as client:
            preflight = client.options(
                "/api/messages",
                headers={"Origin": "http://app.example", "Access-Control-Request-Method": "DELETE"},
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == "http://app.example"
            assert "DELETE" in preflight.headers["access-control-allow-methods"]
            listed = client.get("/api/messages", headers={"Origin": "http://app.example"})
            assert listed.headers["access-control-allow-origin"] == "http://app.example"
            assert client.delete("/api/messages", headers={"Origin": "http://app.example"}).status_code == 200
            foreign = client.delete("/api/messages", headers={"Origin": "http://evil.example"})
            assert foreign.status_code == 403
            assert "access-control-allow-origin" not in foreign.headers
            refused = client.options(
                "/api/messages",
                headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "DELETE"},
            )
            assert "access-control-allow-origin" not in refused.headers
    finally:
        server.stop()
