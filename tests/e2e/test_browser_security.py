"""The browser door, tried as an attacker would, in a real headless Chromium against a real server.

Two attacks, each with and without ``--ui-auth`` (the browser then holds the credentials and answers any
challenge with them, the worst case):

- cross-site request forgery: a page on another site sends "simple" requests (a ``no-cors`` fetch with
  ``Content-Type: text/plain``, a form with ``enctype=text/plain``) that need no CORS preflight;
- DNS rebinding: a page of ``rebind.attacker.example`` whose name now resolves to 127.0.0.1 (Chromium's
  host-resolver rules) reads, deletes and changes what the server holds as if it were same-origin.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.helpers import send, simple_message

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

ATTACKER = "evil.attacker.example"
REBOUND = "rebind.attacker.example"
# Both attacker names lead to loopback; every other name fails to resolve, so nothing leaves the machine.
RESOLVER_RULES = "MAP *.attacker.example 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
USER, PASSWORD = "admin", "s3cret"
SECRET_SUBJECT = "Reset your password: https://app.example/reset/t0k3n"
RULE = {"stage": "connect", "code": 421, "message": "pwned"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={RESOLVER_RULES}"],
        )
        yield launched
        launched.close()


@pytest.fixture(params=[None, (USER, PASSWORD)], ids=["open", "ui-auth"])
def server_config(request: pytest.FixtureRequest) -> Config:
    return free_config(ui_auth=request.param)


@pytest.fixture
def owner(server: MailServer, server_config: Config) -> Iterator[httpx.Client]:
    """The developer's own client, to look at what the attacker's page achieved."""
    assert server.addresses is not None
    with httpx.Client(base_url=server.addresses.url, auth=server_config.ui_auth, timeout=30) as client:
        yield client


@pytest.fixture
def context(browser: Browser, server: MailServer, server_config: Config) -> Iterator[BrowserContext]:
    """The developer's browser; with ``--ui-auth`` it has signed in to the UI, so it holds the credentials."""
    credentials = None if server_config.ui_auth is None else {"username": USER, "password": PASSWORD}
    made = browser.new_context(http_credentials=credentials)  # type: ignore[arg-type]
    made.set_default_timeout(15_000)
    if credentials is not None:
        signed_in = made.new_page()
        response = signed_in.goto(target(server) + "/api/stats")
        assert response is not None and response.status == 200
    yield made
    made.close()


class AttackerSite:
    """Another web site on loopback: serves whatever page a test puts at a path."""

    def __init__(self) -> None:
        pages: dict[str, str] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "not found").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.pages = pages
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def attacker() -> Iterator[AttackerSite]:
    site = AttackerSite()
    site.thread.start()
    yield site
    site.httpd.shutdown()
    site.httpd.server_close()
    site.thread.join(10)


def target(server: MailServer) -> str:
    assert server.addresses is not None
    return server.addresses.url


# Another site, and another local server on another port. The second is the same site, so with --ui-auth
# Chromium lends it the signed-in credentials for a fetch; another site's fetch gets them withheld (401),
# but its form gets them all the same.
ATTACKER_HOSTS = pytest.mark.parametrize("attacker_host", [ATTACKER, "127.0.0.1"], ids=["site", "port"])


@ATTACKER_HOSTS
def test_a_no_cors_text_plain_fetch_from_another_origin_adds_no_fault_rule(
    server: MailServer,
    owner: httpx.Client,
    attacker: AttackerSite,
    context: BrowserContext,
    attacker_host: str,
) -> None:
    attacker.pages["/fetch"] = f"""<!doctype html><script>
      fetch("{target(server)}/api/faults", {{method: "POST", mode: "no-cors", credentials: "include",
            headers: {{"Content-Type": "text/plain"}}, body: {json.dumps(json.dumps(RULE))}}})
        .finally(() => {{ document.title = "sent"; }});
    </script>"""
    page = context.new_page()
    with page.expect_response(f"{target(server)}/api/faults") as answered:
        page.goto(attacker.url(attacker_host, "/fetch"))
    assert answered.value.status == 403
    page.wait_for_function("document.title === 'sent'")
    assert owner.get("/api/faults").json() == {"faults": []}


@ATTACKER_HOSTS
def test_a_text_plain_form_from_another_origin_adds_no_fault_rule(
    server: MailServer,
    owner: httpx.Client,
    attacker: AttackerSite,
    context: BrowserContext,
    attacker_host: str,
) -> None:
    # enctype=text/plain sends "name=value": the name opens a JSON string that the value closes.
    name = json.dumps({**RULE, "message": ""})[:-2]
    attacker.pages["/form"] = f"""<!doctype html>
      <form method="POST" enctype="text/plain" action="{target(server)}/api/faults">
        <input type="hidden" name='{name}' value='"}}'>
      </form>
      <script>document.forms[0].submit();</script>"""
    page = context.new_page()
    with page.expect_response(f"{target(server)}/api/faults") as answered:
        page.goto(attacker.url(attacker_host, "/form"))
    assert answered.value.request.method == "POST"
    assert answered.value.status == 403
    assert "error" in answered.value.json()
    assert owner.get("/api/faults").json() == {"faults": []}


def rebound_page(context: BrowserContext, server: MailServer) -> tuple[Page, int]:
    """A tab on the attacker's name, now resolving to loopback: the server's port is its own origin."""
    assert server.addresses is not None
    page = context.new_page()
    response = page.goto(f"http://{REBOUND}:{server.addresses.http.port}/")
    assert response is not None
    return page, response.status


READ = """async () => {
  const response = await fetch("/api/messages");
  return {status: response.status, body: await response.text()};
}"""

OPEN_SOCKET = """() => new Promise((resolve) => {
  const socket = new WebSocket(`ws://${location.host}/api/ws`);
  socket.onopen = () => { socket.close(); resolve("open"); };
  socket.onerror = () => resolve("refused");
})"""

WRITE = """async (rule) => {
  const deleted = await fetch("/api/messages", {method: "DELETE"});
  const added = await fetch("/api/faults", {method: "POST", headers: {"Content-Type": "application/json"},
                                            body: JSON.stringify(rule)});
  return [deleted.status, added.status];
}"""


def test_a_rebound_page_cannot_read_the_mail(
    server: MailServer, smtp_address: tuple[str, int], context: BrowserContext
) -> None:
    send(smtp_address, simple_message(subject=SECRET_SUBJECT).as_bytes())
    page, status = rebound_page(context, server)
    assert status == 421
    read = page.evaluate(READ)
    assert read["status"] == 421
    assert "t0k3n" not in read["body"] and "--trusted-host" in json.loads(read["body"])["error"]


def test_a_rebound_page_cannot_open_the_websocket(server: MailServer, context: BrowserContext) -> None:
    page, _ = rebound_page(context, server)
    assert page.evaluate(OPEN_SOCKET) == "refused"
    assert server.hub.subscriber_count == 0


def test_a_rebound_page_cannot_delete_mail_or_add_faults(
    server: MailServer, smtp_address: tuple[str, int], owner: httpx.Client, context: BrowserContext
) -> None:
    send(smtp_address, simple_message(subject=SECRET_SUBJECT).as_bytes())
    page, _ = rebound_page(context, server)
    assert page.evaluate(WRITE, RULE) == [421, 421]
    assert owner.get("/api/messages").json()["total"] == 1
    assert owner.get("/api/faults").json() == {"faults": []}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_servers_own_pages_still_read_write_and_listen(
    server: MailServer, smtp_address: tuple[str, int], owner: httpx.Client, context: BrowserContext, host: str
) -> None:
    assert server.addresses is not None
    send(smtp_address, simple_message(subject=SECRET_SUBJECT).as_bytes())
    page = context.new_page()
    response = page.goto(f"http://{host}:{server.addresses.http.port}/")
    assert response is not None and response.status == 200
    assert "t0k3n" in page.evaluate(READ)["body"]
    assert page.evaluate(OPEN_SOCKET) == "open"
    assert page.evaluate(WRITE, RULE) == [200, 201]
    assert owner.get("/api/messages").json()["total"] == 0
    assert [rule["code"] for rule in owner.get("/api/faults").json()["faults"]] == [421]
