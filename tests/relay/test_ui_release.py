"""The Release button in a real headless Chromium: recipients prefilled and editable, the verdict and the
outbound transcript shown, refusals explained."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailtrap_lite.app import MailServer
from tests.conftest import free_config
from tests.e2e.browser import CHROMIUM, launch_chromium
from tests.relay.helpers import api_of, messages, relaying, running, send, wait_until

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


@pytest.fixture
def relay(upstream: MailServer) -> Iterator[MailServer]:
    with running(relaying(upstream, relay_allow=("*@example.com",))) as server:
        yield server


@pytest.fixture
def page(browser: Browser, relay: MailServer) -> Iterator[Page]:
    assert relay.addresses is not None
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    opened.goto(relay.addresses.url + "/")
    expect(opened.locator("#live")).to_have_attribute("data-state", "live")
    yield opened
    context.close()


def test_release_from_the_ui(page: Page, relay: MailServer, upstream: MailServer) -> None:
    send(relay, recipients=("ann@example.com",))
    page.get_by_role("option").filter(has_text="Release me").click()
    page.get_by_role("button", name="Release…").click()
    recipients = page.get_by_label("Release to")
    expect(recipients).to_have_value("ann@example.com")  # prefilled from the envelope
    recipients.fill("ann@example.com, bob@example.com")
    page.get_by_role("button", name="Send").click()
    verdict = page.locator(".release-verdict")
    expect(verdict).to_contain_text("Sent")
    expect(verdict).to_contain_text("250")
    outbound = page.locator(".release-result table.transcript")
    expect(outbound).to_contain_text("RCPT TO:<bob@example.com>")
    expect(outbound).to_contain_text("<DATA ")
    expect(page.locator(".release-history li")).to_have_count(1)
    expect(page.locator(".release-history li")).to_contain_text(
        "Sent (250) · manual · to ann@example.com, bob"
    )
    with api_of(upstream) as up:
        arrived = wait_until(lambda: messages(up), what="the released message")[0]
        recipients_upstream = [r["address"] for r in arrived["envelope"]["recipients"]]
        assert recipients_upstream == ["ann@example.com", "bob@example.com"]

    recipients.fill("eve@elsewhere.test")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".release-result .error")).to_contain_text("eve@elsewhere.test")

    with api_of(upstream) as up:
        up.post("/api/faults", json={"stage": "data", "code": 554, "message": "Spam refused"})
    recipients.fill("ann@example.com")
    page.get_by_role("button", name="Send").click()
    expect(verdict).to_contain_text("Refused")
    expect(page.locator(".release-error")).to_contain_text("Spam refused")
    expect(page.locator(".release-history li").first).to_contain_text("Refused (554)")
    expect(page.locator(".release-history li")).to_have_count(2)  # the 403 sent nothing
    # The button closes the form again; a reload shows the releases the server kept.
    page.get_by_role("button", name="Release…").click()
    expect(page.locator("#release-form")).to_have_count(0)
    page.reload()
    page.get_by_role("option").filter(has_text="Release me").click()
    page.get_by_role("button", name="Release…").click()
    expect(page.locator(".release-history li")).to_have_count(2)
