"""Dropping .eml files on the web UI stores them through POST /api/messages (real headless Chromium
against a real server; the drop is the browser's own DataTransfer of File objects)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from mailtrap_lite.app import MailServer
from tests.e2e.browser import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_ui import UI, browser, make_ui, row

__all__ = ["browser"]  # the module-scoped fixture, shared with test_ui

DROPPING = re.compile(r"\bdropping\b")

# Builds the files in the page and drags them over the body and drops them, as a user's drag from the
# file manager does: dragenter, dragover, then drop (or dragleave), each carrying the same DataTransfer.
DRAG = """
([files, finish]) => {
  const transfer = new DataTransfer();
  for (const [name, text] of files) transfer.items.add(new File([text], name, { type: "" }));
  const fire = (type) => document.body.dispatchEvent(
    new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
  fire("dragenter");
  fire("dragover");
  const highlighted = document.body.classList.contains("dropping");
  fire(finish);
  return highlighted;
}
"""


@pytest.fixture
def ui(browser: Browser, server: MailServer) -> Iterator[UI]:
    made = make_ui(browser, server, viewport={"width": 1280, "height": 800})
    yield made
    made.context.close()


def drag(page: Page, files: list[tuple[str, str]], finish: str = "drop") -> bool:
    return bool(page.evaluate(DRAG, [files, finish]))


def eml(subject: str, to: str = "ann@example.com") -> str:
    return f"From: App <app@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nDropped in.\r\n"


def test_dropped_eml_files_are_stored(ui: UI, api: httpx.Client) -> None:
    page = ui.open()
    assert drag(page, [("one.eml", eml("First dropped")), ("two.EML", eml("Second dropped"))])
    expect(row(page, "First dropped")).to_be_visible()  # type: ignore[arg-type]
    expect(row(page, "Second dropped")).to_be_visible()  # type: ignore[arg-type]
    expect(page.locator("body")).not_to_have_class(DROPPING)
    expect(page.locator("#drop-status")).to_have_text("2 messages stored")
    messages = api.get("/api/messages").json()["messages"]
    assert {m["subject"] for m in messages} == {"First dropped", "Second dropped"}
    session = api.get(f"/api/messages/{messages[0]['id']}/session").json()
    assert session["protocol"] == "http"


def test_a_drop_that_fails_says_why(ui: UI, api: httpx.Client) -> None:
    page = ui.open()
    drag(
        page,
        [("notes.txt", "hello"), ("nobody.eml", "Subject: nobody\r\n\r\nhi\r\n"), ("ok.eml", eml("Fine"))],
    )
    status = page.locator("#drop-status")
    expect(status).to_contain_text("1 message stored; not stored: notes.txt: not an .eml file")
    expect(status).to_contain_text("nobody.eml: no recipients")
    expect(status).to_have_class(re.compile(r"\bfailed\b"))
    expect(row(page, "Fine")).to_be_visible()  # type: ignore[arg-type]
    expect(page.locator("#counts")).to_have_text("1 message · 1 unread")
    expect(status).to_contain_text("nobody.eml: no recipients")  # the list's live refresh leaves it
    assert api.get("/api/messages").json()["total"] == 1
    status.click()
    expect(status).to_be_hidden()


def test_dragging_away_drops_nothing(ui: UI, api: httpx.Client) -> None:
    page = ui.open()
    assert drag(page, [("one.eml", eml("Never"))], finish="dragleave")
    expect(page.locator("body")).not_to_have_class(DROPPING)
    drag(page, [("two.eml", eml("Later"))])
    expect(row(page, "Later")).to_be_visible()  # type: ignore[arg-type]
    assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["Later"]
