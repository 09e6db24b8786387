"""A POP3 session in the web UI's Sessions view (real Chromium): its protocol, its user, its transcript."""

from __future__ import annotations

import pytest

from mailtrap_lite.app import MailServer
from tests.e2e.browser import CHROMIUM
from tests.e2e.helpers import send, simple_message
from tests.pop3.conftest import connect
from tests.web.test_ws import eventually

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from playwright.sync_api import expect

from tests.e2e.test_ui import UI, browser, ui

__all__ = ["browser", "ui"]  # the fixtures, used by name


def test_a_pop3_session_shows_its_protocol_user_and_masked_transcript(
    ui: UI, server: MailServer, smtp_address: tuple[str, int]
) -> None:
    send(smtp_address, simple_message().as_bytes())
    client = connect(server)
    client.user("default")
    client.pass_("very-secret")
    client.retr(1)
    client.quit()
    eventually(lambda: not server.service.live_sessions)
    page = ui.open("#/sessions")
    pop3 = page.locator(".session").filter(has=page.locator(".badge.protocol", has_text="POP3"))
    expect(pop3).to_have_count(1)
    expect(pop3).to_contain_text("user default")
    expect(pop3).not_to_contain_text("delivered nothing")
    pop3.get_by_role("button", name="Show transcript").click()
    expect(pop3.locator("tr.line-client").filter(has_text="PASS")).to_contain_text("PASS ****")
    expect(pop3).not_to_contain_text("very-secret")
    expect(pop3.locator("tr.line-server").filter(has_text="<message 1:")).to_have_count(1)
    smtp = page.locator(".session").filter(has=page.locator(".badge.protocol", has_text="SMTP"))
    expect(smtp).to_contain_text("1 message")
