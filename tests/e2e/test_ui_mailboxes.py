"""The mailbox switcher and "Mark all read" in a real headless Chromium against a real server: unread
counts kept live, the open mailbox in the URL (a shared link opens it), and the list, search, delete-all,
live updates and sessions scoped to it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.browser import CHROMIUM
from tests.e2e.test_mailboxes import deliver, routed_config

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_ui import UI, browser, make_ui, row

__all__ = ["browser"]  # the module-scoped fixture, shared with test_ui


@pytest.fixture
def server_config() -> Config:
    return routed_config()  # shop=rcpt:*@shop.example, ops=auth:ops-*, billing=header:X-App:billing*


@pytest.fixture
def ui(browser: Browser, server: MailServer) -> Iterator[UI]:
    made = make_ui(browser, server, viewport={"width": 1280, "height": 800})
    yield made
    made.context.close()


def switcher(page: Page, name: str) -> object:
    """The switcher's link to a mailbox ("All" for every mailbox)."""
    return page.locator(f'#mailboxes a[data-mailbox="{"" if name == "All" else name}"]')


def test_the_switcher_counts_unread_mail_live_and_scopes_the_list(
    ui: UI, smtp_address: tuple[str, int]
) -> None:
    page = ui.open()
    expect(switcher(page, "shop")).to_have_text("shop")  # configured: listed before it holds mail
    expect(switcher(page, "All")).to_have_attribute("aria-current", "page")
    deliver(smtp_address, "Order 1", to="a@shop.example")
    deliver(smtp_address, "Order 2", to="b@shop.example")
    deliver(smtp_address, "Plain")
    expect(switcher(page, "shop")).to_have_text("shop2 unread")  # type: ignore[arg-type]
    expect(switcher(page, "default")).to_have_text("default1 unread")  # type: ignore[arg-type]
    expect(switcher(page, "All")).to_have_text("All3 unread")  # type: ignore[arg-type]

    switcher(page, "shop").click()  # type: ignore[attr-defined]
    expect(page).to_have_url(re.compile(r"#/mailbox/shop/$"))
    expect(switcher(page, "shop")).to_have_attribute("aria-current", "page")  # type: ignore[arg-type]
    expect(page.locator("#counts")).to_have_text("2 messages · 2 unread")
    expect(page.locator("#list .row-subject")).to_have_text(["Order 2", "Order 1"])

    # New mail of the open mailbox appears; other mailboxes' mail only counts in the switcher.
    deliver(smtp_address, "Order 3", to="c@shop.example")
    deliver(smtp_address, "Plain 2")
    expect(row(page, "Order 3")).to_be_visible()  # type: ignore[arg-type]
    expect(page.locator("#counts")).to_have_text("3 messages · 3 unread")
    expect(row(page, "Plain")).to_have_count(0)  # type: ignore[arg-type]

    # Opening a message keeps the mailbox in the URL, and reading it lowers that mailbox's count.
    row(page, "Order 1").click()  # type: ignore[attr-defined]
    expect(page).to_have_url(re.compile(r"#/mailbox/shop/messages/[^/]+$"))
    expect(page.locator(".fields")).to_contain_text("shop (rcpt:*@shop.example)")
    expect(switcher(page, "shop")).to_have_text("shop2 unread")  # type: ignore[arg-type]

    # The search is scoped too.
    page.locator("#search").fill("3")
    expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
    expect(page.locator("#list .row-subject")).to_have_text(["Order 3"])


def test_a_shared_link_opens_its_mailbox_and_message(
    ui: UI, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    deliver(smtp_address, "Order", to="a@shop.example")
    deliver(smtp_address, "Plain")
    order = api.get("/api/messages", params={"mailbox": "shop"}).json()["messages"][0]["id"]
    page = ui.open(f"#/mailbox/SHOP/messages/{order}")  # names are case-insensitive
    expect(page.locator("#message-subject")).to_have_text("Order")
    expect(switcher(page, "shop")).to_have_attribute("aria-current", "page")  # type: ignore[arg-type]
    expect(page.locator("#list .row-subject")).to_have_text(["Order"])
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"#/mailbox/shop/$"))

    # A mailbox that holds no mail yet opens empty, and its first message appears live.
    page = ui.open("#/mailbox/later/")
    expect(switcher(page, "later")).to_have_attribute("aria-current", "page")  # type: ignore[arg-type]
    expect(page.locator("#list-empty")).to_be_visible()
    deliver(smtp_address, "Late")  # to default: not shown here
    deliver(smtp_address, "For later", headers={"X-Mailtrap-Mailbox": "later"})
    expect(row(page, "For later")).to_be_visible()  # type: ignore[arg-type]
    expect(page.locator("#list .row-subject")).to_have_text(["For later"])

    # The old routes still mean every mailbox.
    page = ui.open("#/")
    expect(page.locator("#counts")).to_have_text("4 messages · 3 unread")  # Order was read


def test_mark_all_read_and_delete_all_act_on_the_open_mailbox_only(
    ui: UI, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    deliver(smtp_address, "Order 1", to="a@shop.example")
    deliver(smtp_address, "Order 2", to="b@shop.example")
    deliver(smtp_address, "Plain 1")
    deliver(smtp_address, "Plain 2")
    page = ui.open("#/mailbox/shop/")
    mark = page.get_by_role("button", name="Mark all read")
    page.locator("#search").fill("2")
    expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
    mark.click()  # the search and the mailbox: Order 2 only
    expect(page.locator("#counts")).to_have_text("1 message · 0 unread")
    expect(mark).to_be_disabled()
    page.locator("#search").fill("")
    expect(page.locator("#counts")).to_have_text("2 messages · 1 unread")
    mark.click()
    expect(page.locator("#counts")).to_have_text("2 messages · 0 unread")
    expect(switcher(page, "shop")).to_have_text("shop")  # type: ignore[arg-type]
    expect(switcher(page, "default")).to_have_text("default2 unread")  # type: ignore[arg-type]
    unread = {m["subject"] for m in api.get("/api/messages", params={"q": "is:unread"}).json()["messages"]}
    assert unread == {"Plain 1", "Plain 2"}

    ui.accept_dialogs = True
    page.get_by_role("button", name="Delete all").click()
    expect(page.locator("#list-empty")).to_be_visible()
    assert ui.dialogs == ["Delete every message in mailbox “shop”?"]
    left = [m["subject"] for m in api.get("/api/messages").json()["messages"]]
    assert left == ["Plain 2", "Plain 1"]


def test_the_sessions_view_follows_the_mailbox(ui: UI, smtp_address: tuple[str, int]) -> None:
    deliver(smtp_address, "Order", to="a@shop.example")
    deliver(smtp_address, "Plain")
    page = ui.open("#/mailbox/shop/")
    page.get_by_role("link", name="Sessions").click()
    expect(page).to_have_url(re.compile(r"#/mailbox/shop/sessions$"))
    expect(page.locator("#sessions-counts")).to_have_text("1\N{EN DASH}1 of 1 in mailbox shop")
    switcher(page, "All").click()  # type: ignore[attr-defined]
    expect(page).to_have_url(re.compile(r"#/sessions$"))
    expect(page.locator("#sessions-counts")).to_have_text("1\N{EN DASH}2 of 2")
    switcher(page, "shop").click()  # type: ignore[attr-defined]
    expect(page.locator("#sessions-counts")).to_have_text("1\N{EN DASH}1 of 1 in mailbox shop")
    page.locator("#sessions-list").get_by_role("link", name="message 1").click()
    expect(page).to_have_url(re.compile(r"#/mailbox/shop/messages/[^/]+$"))
    expect(page.locator("#message-subject")).to_have_text("Order")


@pytest.mark.parametrize("server_config", [free_config()])
def test_one_mailbox_hides_the_switcher(ui: UI, smtp_address: tuple[str, int]) -> None:
    """With only the default mailbox, the page looks as it did before mailboxes: no switcher."""
    deliver(smtp_address, "Plain")
    page = ui.open()
    expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
    expect(page.locator("#mailboxes")).to_be_hidden()
    deliver(smtp_address, "Elsewhere", headers={"X-Mailtrap-Mailbox": "second"})
    expect(switcher(page, "second")).to_have_text("second1 unread")  # type: ignore[arg-type]
    expect(page.locator("#mailboxes")).to_be_visible()


def test_a_user_confined_to_one_mailbox_sees_only_its_mailbox_and_tags(
    browser: Browser, tmp_path: Path
) -> None:
    users = tmp_path / "users"
    users.write_text("ann:ann-pw\nadmin:admin-pw\n")
    config = routed_config(ui_auth=str(users), mailbox_access=["ann=shop"])
    server = MailServer(config)
    server.start()
    try:
        assert server.addresses is not None
        address = (server.addresses.smtp.host, server.addresses.smtp.port)
        deliver(address, "Order", to="a@shop.example", headers={"X-Tags": "order"})
        deliver(address, "Secret", headers={"X-Tags": "internal"})
        made = make_ui(browser, server, http_credentials={"username": "ann", "password": "ann-pw"})
        page = made.open()
        expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
        expect(page.locator("#mailboxes")).to_be_hidden()  # one mailbox: no switcher
        expect(page.locator("#tag-filter [data-tag]")).to_have_text(["order1 message"])
        page = made.open("#/mailbox/default/")  # a mailbox of someone else's: empty, not an error
        expect(page.locator("#list-empty")).to_be_visible()
        expect(page.locator("#tag-filter")).to_be_hidden()
        made.context.close()
    finally:
        server.stop()
