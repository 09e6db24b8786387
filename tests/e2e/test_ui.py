"""The web UI in a real headless Chromium (Debian's /usr/bin/chromium), against a real server."""

from __future__ import annotations

import dataclasses
import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.events import Event
from mailtrap_lite.message import build_message
from mailtrap_lite.model import Envelope, Session, utcnow
from tests.e2e.browser import CHROMIUM, launch_chromium
from tests.e2e.helpers import send, simple_message

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, BrowserContext, Dialog, Page, Request, Route, expect, sync_playwright

LOCAL_HOSTS = {"127.0.0.1"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()


@dataclasses.dataclass
class UI:
    page: Page
    context: BrowserContext
    url: str
    requests: list[str]
    dialogs: list[str]
    accept_dialogs: bool = False

    def open(self, fragment: str = "") -> Page:
        self.page.goto(self.url + "/" + fragment)
        expect(self.page.locator("#live")).to_have_attribute("data-state", "live")
        return self.page


def keep_local(route: Route, request: Request) -> None:
    """Nothing leaves the machine, whatever a test page tries: requests elsewhere fail (and are recorded)."""
    if urlsplit(request.url).hostname in LOCAL_HOSTS or request.url.startswith("data:"):
        route.continue_()
    else:
        route.abort()


def make_ui(browser: Browser, server: MailServer, **options: object) -> UI:
    assert server.addresses is not None
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    requests: list[str] = []
    dialogs: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route("**/*", keep_local)
    page = context.new_page()
    made = UI(page, context, server.addresses.url, requests, dialogs)

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        if made.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", answer)
    return made


@pytest.fixture
def ui(browser: Browser, server: MailServer) -> Iterator[UI]:
    made = make_ui(browser, server, viewport={"width": 1280, "height": 800})
    yield made
    made.context.close()


def row(page: Page, text: str) -> object:
    return page.get_by_role("option").filter(has_text=text)


def test_a_message_sent_over_smtp_appears_without_reload(ui: UI, smtp_address: tuple[str, int]) -> None:
    page = ui.open()
    expect(page.locator("#list-empty")).to_be_visible()
    send(smtp_address, simple_message(subject="Appears live").as_bytes())
    expect(row(page, "Appears live")).to_be_visible()  # type: ignore[arg-type]
    expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
    expect(page.locator("#list-empty")).to_be_hidden()


def html_mail(subject: str = "Newsletter") -> EmailMessage:
    message = simple_message(subject=subject)
    message.add_alternative(
        '<html><head></head><body><h1>Big news</h1><img id="logo" src="cid:logo@x" alt="logo"></body></html>',
        subtype="html",
    )
    pixel = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
        b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND"
        b"\xaeB`\x82"
    )
    message.get_payload()[1].add_related(pixel, "image", "png", cid="<logo@x>")
    return message


def test_opening_shows_the_html_in_a_sandboxed_frame(ui: UI, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, html_mail().as_bytes())
    page = ui.open()
    row(page, "Newsletter").click()  # type: ignore[attr-defined]
    expect(page.locator("#message-subject")).to_have_text("Newsletter")
    expect(page.get_by_role("tab", name="HTML")).to_have_attribute("aria-selected", "true")
    frame = page.locator("iframe.preview")
    expect(frame).to_have_attribute("sandbox", "allow-popups allow-popups-to-escape-sandbox")
    preview = page.frame_locator("iframe.preview")
    expect(preview.get_by_role("heading", name="Big news")).to_be_visible()
    # The cid: image came from its part URL, which the preview's CSP allows ('self').
    expect(preview.locator("#logo")).to_have_js_property("naturalWidth", 1)
    expect(page.locator("#counts")).to_have_text("1 message · 0 unread")  # opening marked it read
    for width, expected in (("Phone", 375), ("Tablet", 768)):
        page.get_by_role("button", name=width).click()
        expect(page.get_by_role("button", name=width)).to_have_attribute("aria-pressed", "true")
        assert frame.bounding_box()["width"] == pytest.approx(expected, abs=1)  # type: ignore[index]
    page.get_by_role("tab", name="Text").click()
    expect(page.locator("#message-panel")).to_contain_text("Hi Ann!")
    page.get_by_role("tab", name="Headers").click()
    expect(page.locator("#message-panel")).to_contain_text("Message-ID")
    page.get_by_role("tab", name="Raw").click()
    expect(page.locator("#message-panel pre.raw")).to_contain_text("Content-Type: multipart/alternative")
    page.get_by_role("tab", name="Attachments (1 inline)").click()
    expect(page.locator("#message-panel img.thumb")).to_have_js_property("naturalWidth", 1)


HOSTILE_SUBJECT = '<img src=x onerror="alert(\'subject\')"><b>Bold</b> & "quoted"'
HOSTILE_NAME = "<script>alert('name')</script> Mallory"
HOSTILE_FILENAME = "<img src=x onerror=alert('file')>.txt"
HOSTILE_HTML = """<html><head>
<meta http-equiv="refresh" content="1;url=https://evil.example/refresh">
<link rel="stylesheet" href="https://evil.example/style.css">
<link rel="prefetch" href="https://evil.example/prefetch">
<style>@import url("https://evil.example/import.css");
body { background: url(http://evil.example/bg.png) }
@font-face { font-family: x; src: url(https://evil.example/font.woff) } p { font-family: x }</style>
<script src="https://evil.example/script.js"></script>
</head>
<body onload="document.body.append('ONLOAD RAN'); alert('onload')">
<script>document.body.append("SCRIPT RAN"); top.__pwned = 1; alert("script");
fetch("https://evil.example/fetch")</script>
<img src="https://evil.example/pixel.gif" onerror="this.alt='ONERROR RAN'; alert('onerror')">
<img src="x" onerror="document.body.append('ONERROR RAN'); alert('onerror2')">
<svg onload="alert('svg')"><image href="https://evil.example/svg.png"/></svg>
<iframe src="https://evil.example/frame"></iframe>
<object data="https://evil.example/object"></object>
<video poster="https://evil.example/poster.png" src="https://evil.example/video.mp4"></video>
<form action="https://evil.example/form"><input autofocus onfocus="alert('focus')"></form>
<a id="js" href="javascript:alert('link')">link</a>
<p>Hostile body marker</p>
</body></html>"""


def hostile_mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = f'"{HOSTILE_NAME}" <mallory@evil.example>'
    message["To"] = "ann@example.com"
    message["Subject"] = HOSTILE_SUBJECT
    message.set_content("plain part")
    message.add_alternative(HOSTILE_HTML, subtype="html")
    message.add_attachment(b"hello", maintype="text", subtype="plain", filename=HOSTILE_FILENAME)
    return message


def test_a_hostile_mail_runs_nothing_and_contacts_nothing(ui: UI, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, hostile_mail().as_bytes())
    page = ui.open()
    listed = page.get_by_role("option").first
    expect(listed.locator(".row-subject")).to_have_text(HOSTILE_SUBJECT)
    expect(listed.locator(".row-from")).to_have_text(HOSTILE_NAME)
    listed.click()
    expect(page.locator("#message-subject")).to_have_text(HOSTILE_SUBJECT)
    preview = page.frame_locator("iframe.preview")
    expect(preview.get_by_text("Hostile body marker")).to_be_visible()
    notice = page.locator(".remote-notice")
    expect(notice).to_contain_text("blocked")
    page.wait_for_timeout(1500)  # past the 1 s meta refresh, had it survived
    expect(preview.get_by_text("Hostile body marker")).to_be_visible()
    preview.locator("#js").click()  # a javascript: link in a frame without allow-scripts does nothing
    expect(preview.locator("body")).not_to_contain_text("RAN")
    page.get_by_role("tab", name="Attachments (1)").click()
    expect(page.locator("#message-panel .filename")).to_have_text(HOSTILE_FILENAME)
    page.get_by_role("tab", name="Headers").click()
    expect(page.locator("#message-panel")).to_contain_text(HOSTILE_SUBJECT)

    assert page.evaluate("() => window.__pwned") is None
    assert (
        page.locator("#message-subject img, .row-subject img, .row-from script, .filename img").count() == 0
    )
    assert ui.dialogs == []
    offsite = [url for url in ui.requests if urlsplit(url).hostname not in LOCAL_HOSTS]
    assert offsite == [], offsite

    # The one way to reach out is the user's own click, and then only images and stylesheets go.
    page.get_by_role("tab", name="HTML").click()
    page.get_by_role("button", name="Load remote content").click()
    expect(page.locator("iframe.preview")).to_have_attribute("src", re.compile(r"remote=1$"))
    page.wait_for_timeout(500)
    assert any(url.startswith("https://evil.example/pixel.gif") for url in ui.requests), ui.requests
    assert not any(url.startswith("https://evil.example/script.js") for url in ui.requests)
    assert not any("evil.example/fetch" in url or "evil.example/frame" in url for url in ui.requests)
    assert ui.dialogs == []


def test_the_transcript_tab_shows_the_conversation(ui: UI, smtp_address: tuple[str, int]) -> None:
    send(
        smtp_address,
        simple_message(subject="Talk to me").as_bytes(),
        recipients=("ann@example.com", "bob@x.org"),
    )
    page = ui.open()
    row(page, "Talk to me").click()  # type: ignore[attr-defined]
    page.get_by_role("tab", name="Transcript").click()
    panel = page.locator("#message-panel")
    client = panel.locator("tr.line-client")
    server = panel.locator("tr.line-server")
    expect(client.filter(has_text="MAIL FROM:<app@example.com>")).to_have_count(1)
    expect(client.filter(has_text="TO:<bob@x.org>")).to_have_count(1)
    expect(client.filter(has_text=re.compile(r"<DATA \d+ bytes>"))).to_have_count(1)
    expect(server.first).to_contain_text("220")
    expect(server.locator(".reply-code.code-2xx", has_text="250").first).to_be_visible()
    expect(server.locator(".reply-code.code-3xx", has_text="354")).to_have_count(1)
    expect(panel.locator("td.t").first).to_have_text(re.compile(r"^\d+ ms$"))
    page.keyboard.press("Home")  # focus is on the tab: Home goes to the first tab
    expect(page.get_by_role("tab", name="HTML")).to_be_focused()
    page.get_by_role("tab", name="Envelope").click()
    recipients = panel.locator("table.recipients tbody tr")
    expect(recipients).to_have_count(2)
    expect(recipients.nth(1)).to_contain_text("bob@x.org")
    expect(recipients.nth(1).locator(".reply-code")).to_have_text("250")


def test_sessions_view_shows_sessions_that_delivered_nothing(ui: UI, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, simple_message(subject="Delivered").as_bytes())
    page = ui.open("#/sessions")
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("monitor.local")
    empty = page.locator(".session").filter(has_text="monitor.local")
    expect(empty).to_contain_text("delivered nothing")  # appeared live
    empty.get_by_role("button", name="Show transcript").click()
    expect(empty.get_by_role("button", name="Hide transcript")).to_have_attribute("aria-expanded", "true")
    expect(empty.locator("tr.line-client").last).to_contain_text("QUIT")
    expect(empty.locator(".reply-code", has_text="221")).to_have_count(1)
    delivered = page.locator(".session").filter(has_text="1 message")
    delivered.get_by_role("link", name="message 1").click()
    expect(page.locator("#message-subject")).to_have_text("Delivered")


def test_searching_from_the_sessions_view_shows_the_matching_messages(
    ui: UI, smtp_address: tuple[str, int]
) -> None:
    for subject in ("Invoice 1", "Welcome"):
        send(smtp_address, simple_message(subject=subject).as_bytes())
    page = ui.open("#/sessions")
    page.locator("body").press("/")
    page.keyboard.type("subject:invoice")
    page.keyboard.press("Enter")
    expect(page.locator("#messages-view")).to_be_visible()
    expect(page.get_by_role("option")).to_have_count(1)
    expect(row(page, "Invoice 1")).to_be_visible()  # type: ignore[arg-type]


def test_keyboard_search_and_delete(ui: UI, smtp_address: tuple[str, int]) -> None:
    for subject in ("First", "Second invoice", "Third"):
        send(smtp_address, simple_message(subject=subject).as_bytes())
    page = ui.open()
    expect(page.get_by_role("option")).to_have_count(3)
    page.keyboard.press("j")
    expect(page.locator("#message-subject")).to_have_text("Third")
    page.keyboard.press("j")
    expect(page.locator("#message-subject")).to_have_text("Second invoice")
    page.keyboard.press("k")
    expect(page.locator("#message-subject")).to_have_text("Third")
    page.keyboard.press("7")
    expect(page.get_by_role("tab", name="Transcript")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Envelope")).to_be_focused()
    expect(page.get_by_role("tab", name="Envelope")).to_have_attribute("aria-selected", "true")
    page.locator("body").press("u")
    expect(row(page, "Third")).to_have_class(re.compile(r"\bunread\b"))  # type: ignore[arg-type]
    page.locator("body").press("Delete")
    expect(page.get_by_role("option")).to_have_count(2)
    expect(page.locator("#message-subject")).to_have_text("Second invoice")
    page.locator("body").press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("subject:invoice")
    page.keyboard.press("Enter")
    expect(page.get_by_role("option")).to_have_count(1)
    expect(page.locator("#list")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("option")).to_have_attribute("aria-selected", "true")
    page.locator("#search").fill('subject:"unclosed')
    expect(page.locator("#search-error")).to_contain_text("unterminated quote")
    page.locator("#search").fill("")
    expect(page.get_by_role("option")).to_have_count(2)
    ui.accept_dialogs = True
    page.get_by_role("button", name="Delete all").click()
    expect(page.locator("#list-empty")).to_be_visible()
    expect(page.locator("#counts")).to_have_text("0 messages · 0 unread")
    assert ui.dialogs == ["Delete every message?"]


def test_ten_thousand_messages_stay_fast(ui: UI, server: MailServer) -> None:
    session = Session(id="bulk", peer="127.0.0.1:1", started_at=utcnow())
    template = build_message("t", simple_message().as_bytes(), Envelope("app@example.com"), session.id, False)

    async def fill() -> None:
        for n in range(10_000):
            summary = dataclasses.replace(template.summary, id=f"bulk{n:06d}", subject=f"Bulk message {n}")
            await server.store.add(dataclasses.replace(template, summary=summary), session)

    server.call(fill())
    page = ui.open()
    expect(page.locator("#counts")).to_have_text("10000 messages · 10000 unread")
    expect(row(page, "Bulk message 9999")).to_be_visible()  # type: ignore[arg-type]
    assert page.get_by_role("option").count() < 60  # only what is on screen (plus a margin)
    page.locator("#list").focus()
    page.keyboard.press("End")
    expect(page.locator("#message-subject")).to_have_text("Bulk message 0")
    expect(row(page, "Bulk message 0")).to_be_in_viewport()  # type: ignore[arg-type]
    assert page.get_by_role("option").count() < 60
    page.keyboard.press("ArrowUp")
    expect(page.locator("#message-subject")).to_have_text("Bulk message 1")


def test_the_live_connection_reconnects_by_itself(
    ui: UI, server: MailServer, smtp_address: tuple[str, int]
) -> None:
    sockets: list[str] = []
    ui.page.on("websocket", lambda socket: sockets.append(socket.url))
    page = ui.open()
    assert server.loop is not None
    # Flood the page's subscription: the server drops it (1013), the page must come back by itself.
    server.loop.call_soon_threadsafe(lambda: [server.hub.publish(Event("stats", {})) for _ in range(1500)])
    page.wait_for_function("() => document.querySelector('#live').dataset.state !== 'live'")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert len(sockets) == 2, sockets
    send(smtp_address, simple_message(subject="After the outage").as_bytes())
    expect(row(page, "After the outage")).to_be_visible()  # type: ignore[arg-type]


def test_usable_on_a_narrow_screen(
    browser: Browser, server: MailServer, smtp_address: tuple[str, int]
) -> None:
    send(smtp_address, simple_message(subject="On my phone").as_bytes())
    ui = make_ui(browser, server, viewport={"width": 390, "height": 800}, color_scheme="dark")
    try:
        page = ui.open()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(22, 24, 28)"  # dark mode follows the system
        expect(page.locator("#message")).to_be_hidden()
        row(page, "On my phone").click()  # type: ignore[attr-defined]
        expect(page.locator("#message-subject")).to_have_text("On my phone")
        expect(page.locator("#list")).to_be_hidden()
        page.get_by_role("button", name="← Messages").click()
        expect(page.locator("#list")).to_be_visible()
        expect(page.locator("#message")).to_be_hidden()
    finally:
        ui.context.close()
