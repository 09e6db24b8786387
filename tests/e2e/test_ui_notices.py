"""What the UI flags and tells: informational warnings, the unread count in the tab title, desktop
notifications (real headless Chromium against a real server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailtrap_lite.app import MailServer
from tests.e2e.browser import CHROMIUM
from tests.e2e.helpers import send, simple_message

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, expect

from tests.e2e.test_ui import UI, browser, make_ui, row

__all__ = ["browser"]  # the module-scoped fixture, shared with test_ui

# The browser's own Notification, wrapped so that the test can see what the page showed; permission and
# requestPermission stay the browser's.
RECORD_NOTIFICATIONS = """
const Real = window.Notification;
window.__notes = [];
window.__hidden = false;
Object.defineProperty(document, "hidden", { get: () => window.__hidden });
class Recorded {
  constructor(title, options) { window.__notes.push({ title, body: options && options.body }); }
  static get permission() { return Real.permission; }
  static requestPermission() { return Real.requestPermission(); }
}
window.Notification = Recorded;
"""


@pytest.fixture
def ui(browser: Browser, server: MailServer) -> Iterator[UI]:
    assert server.addresses is not None
    made = make_ui(browser, server, viewport={"width": 1280, "height": 800})
    made.context.grant_permissions(["notifications"], origin=server.addresses.url)
    made.context.add_init_script(RECORD_NOTIFICATIONS)
    yield made
    made.context.close()


def test_a_missing_date_is_shown_but_not_flagged(ui: UI, smtp_address: tuple[str, int]) -> None:
    page = ui.open()
    send(smtp_address, b"From: app@example.com\r\nTo: ann@example.com\r\nSubject: Bare\r\n\r\nhello\r\n")
    send(smtp_address, b"From: app@example.com\r\nBcc: boss@example.com\r\nSubject: Leaky\r\n\r\nhello\r\n")
    expect(row(page, "Leaky").locator(".row-warn")).to_have_count(1)  # type: ignore[attr-defined]
    expect(row(page, "Bare").locator(".row-warn")).to_have_count(0)  # type: ignore[attr-defined]
    row(page, "Bare").click()  # type: ignore[attr-defined]
    expect(page.locator("#message-subject")).to_have_text("Bare")
    expect(page.locator(".warning-banner")).to_have_count(0)
    page.get_by_role("tab", name="Envelope").click()
    expect(page.locator("#message-panel .warnings li.info").first).to_contain_text("missing-date")
    expect(page.locator("#message-panel .warnings")).to_contain_text("(for information)")


def test_the_tab_title_counts_unread(ui: UI, smtp_address: tuple[str, int]) -> None:
    page = ui.open()
    expect(page).to_have_title("mailtrap-lite")
    for subject in ("One", "Two"):
        send(smtp_address, simple_message(subject=subject).as_bytes())
    expect(page).to_have_title("(2) mailtrap-lite")
    row(page, "One").click()  # type: ignore[attr-defined]
    expect(page).to_have_title("(1) mailtrap-lite")


def test_notifications_are_opt_in_and_only_for_a_hidden_tab(ui: UI, smtp_address: tuple[str, int]) -> None:
    page = ui.open()
    button = page.get_by_role("button", name="Notify")
    expect(button).to_have_attribute("aria-pressed", "false")
    send(smtp_address, simple_message(subject="Before opting in").as_bytes())
    expect(row(page, "Before opting in")).to_be_visible()  # type: ignore[arg-type]
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    send(smtp_address, simple_message(subject="While looking").as_bytes())
    expect(row(page, "While looking")).to_be_visible()  # type: ignore[arg-type]
    page.evaluate("window.__hidden = true")
    send(smtp_address, simple_message(subject="While away").as_bytes())
    expect(row(page, "While away")).to_be_visible()  # type: ignore[arg-type]
    assert page.evaluate("window.__notes.map((n) => n.title)") == ["While away"]
    page.reload()  # the choice is remembered
    expect(page.get_by_role("button", name="Notify")).to_have_attribute("aria-pressed", "true")
