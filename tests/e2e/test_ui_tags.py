"""Tags in the web UI, in a real headless Chromium against a real server: chips on rows and in the message
view, the tag filter (a chip puts tag:NAME in the search), adding and removing tags, and the server's 400
text for a bad tag."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.e2e.browser import CHROMIUM
from tests.e2e.test_mailboxes import deliver

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_ui import UI, browser, make_ui, row

__all__ = ["browser"]  # the module-scoped fixture, shared with test_ui


@pytest.fixture
def ui(browser: Browser, server: MailServer) -> Iterator[UI]:
    made = make_ui(browser, server, viewport={"width": 1280, "height": 800})
    yield made
    made.context.close()


def filter_chip(page: Page, tag: str) -> object:
    return page.locator(f'#tag-filter [data-tag="{tag}"]')


def test_chips_show_tags_and_filter_the_list(ui: UI, smtp_address: tuple[str, int]) -> None:
    page = ui.open()
    expect(page.locator("#tag-filter")).to_be_hidden()  # no tags yet
    deliver(smtp_address, "Welcome", headers={"X-Tags": "Signup, Onboarding"})
    deliver(smtp_address, "Receipt", headers={"X-Tags": "billing, two words, third"})
    deliver(smtp_address, "Untagged")
    expect(row(page, "Untagged")).to_be_visible()  # type: ignore[arg-type]
    # Normalised by the server, two chips a row and "+N" for the rest.
    expect(row(page, "Welcome").locator(".tag-chip")).to_have_text(["signup", "onboarding"])  # type: ignore[attr-defined]
    expect(row(page, "Receipt").locator(".tag-chip")).to_have_text(["billing", "two words"])  # type: ignore[attr-defined]
    expect(row(page, "Receipt").locator(".tag-more")).to_have_text("+1")  # type: ignore[attr-defined]
    expect(row(page, "Untagged").locator(".tag-chip")).to_have_count(0)  # type: ignore[attr-defined]
    # The filter lists every tag with its count.
    expect(page.locator("#tag-filter .tag-chip")).to_have_count(5)
    expect(filter_chip(page, "signup")).to_have_text("signup1 message")  # type: ignore[arg-type]

    # A chip on a row filters (and does not open the message); the search box says so.
    row(page, "Receipt").locator('.tag-chip[data-tag="two words"]').click()  # type: ignore[attr-defined]
    expect(page.locator("#search")).to_have_value('tag:"two words"')
    expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
    expect(page.locator("#list .row-subject")).to_have_text(["Receipt"])
    expect(page.locator("#message-subject")).to_have_count(0)
    expect(filter_chip(page, "two words")).to_have_attribute("aria-pressed", "true")  # type: ignore[arg-type]

    # Filter chips toggle their term.
    filter_chip(page, "two words").click()  # type: ignore[attr-defined]
    expect(page.locator("#search")).to_have_value("")
    expect(page.locator("#counts")).to_have_text("3 messages · 3 unread")
    filter_chip(page, "signup").focus()  # type: ignore[attr-defined]
    page.keyboard.press("Enter")
    expect(page.locator("#search")).to_have_value("tag:signup")
    expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
    expect(page.locator("#list .row-subject")).to_have_text(["Welcome"])
    expect(filter_chip(page, "signup")).to_be_focused()  # type: ignore[arg-type]  # kept across the reload
    page.keyboard.press("Enter")
    expect(page.locator("#search")).to_have_value("")


def test_tags_are_edited_in_the_message_view(
    ui: UI, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    deliver(smtp_address, "Invoice", headers={"X-Tags": "billing"})
    page = ui.open()
    row(page, "Invoice").click()  # type: ignore[attr-defined]
    editor = page.locator(".tag-editor")
    expect(editor.locator(".tag-name")).to_have_text(["billing"])

    field = page.get_by_label("Add a tag")
    field.fill("  Paid  ")
    field.press("Enter")
    expect(editor.locator(".tag-name")).to_have_text(["billing", "paid"])  # as the server normalised it
    expect(field).to_have_value("")
    expect(row(page, "Invoice").locator(".tag-chip")).to_have_text(["billing", "paid"])  # type: ignore[attr-defined]
    expect(filter_chip(page, "paid")).to_be_visible()  # type: ignore[arg-type]

    # A bad tag: the server's 400 names it, nothing changes, and the field keeps the text to fix it.
    field.fill("a,b")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(editor.locator(".tag-error")).to_have_text("bad tag 'a,b': a tag cannot hold a comma")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("a,b")
    field.fill("x" * 65)
    field.press("Enter")
    expect(editor.locator(".tag-error")).to_contain_text("65 characters, at most 64")
    expect(editor.locator(".tag-name")).to_have_text(["billing", "paid"])

    page.get_by_role("button", name="Remove tag billing").click()
    expect(editor.locator(".tag-name")).to_have_text(["paid"])
    expect(field).to_be_focused()
    expect(editor.locator(".tag-error")).to_have_text("")
    assert api.get("/api/messages").json()["messages"][0]["tags"] == ["paid"]

    # A change made elsewhere (another tab, a script) shows up in the open message.
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    api.patch(f"/api/messages/{message_id}", json={"tags": ["paid", "archived"]})
    expect(editor.locator(".tag-name")).to_have_text(["paid", "archived"])
    api.post("/api/messages/tags", json={"query": "", "remove": ["paid"]})
    expect(editor.locator(".tag-name")).to_have_text(["archived"])

    # The chip in the message view filters the list too.
    editor.locator(".tag-name", has_text="archived").click()
    expect(page.locator("#search")).to_have_value("tag:archived")
    expect(page.locator("#counts")).to_have_text("1 message · 0 unread")
