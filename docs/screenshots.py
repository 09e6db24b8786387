"""Regenerate the README's screenshots: python3 docs/screenshots.py [DIRECTORY]

Starts a mailtrap-lite server on free ports, sends it a few realistic messages over SMTP, and saves PNGs of
the main views to docs/screenshots/ (or DIRECTORY) with headless Chromium (Debian's /usr/bin/chromium).
"""

from __future__ import annotations

import smtplib
import struct
import sys
import zlib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailtrap_lite import Config, MailServer  # noqa: E402
from mailtrap_lite.config import HostPort  # noqa: E402
from tests.e2e.browser import launch_chromium  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A small striped PNG, made without any imaging library."""
    rows = b"".join(
        b"\x00" + bytes((colour if (y // 8) % 2 else (255, 255, 255)) * width) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def welcome() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme Shop <hello@acme.example>"
    message["To"] = "Ann Example <ann@example.com>"
    message["Subject"] = "Welcome to Acme, Ann!"
    message["Date"] = "Thu, 26 Nov 2026 09:12:00 +0000"
    message["Message-ID"] = make_msgid(domain="acme.example")
    message.set_content(
        "Hi Ann,\n\nThanks for signing up. Verify your address:\nhttps://acme.example/verify/8f2c\n"
    )
    logo = make_msgid(domain="acme.example")
    message.add_alternative(
        f"""<!doctype html><html>
<body style="font-family:Helvetica,Arial,sans-serif;background:#f3f4f6;margin:0">
<table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px">
<table width="560" style="max-width:100%;background:#fff;border-radius:8px" cellpadding="24"><tr><td>
<img src="cid:{logo[1:-1]}" width="120" height="40" alt="Acme">
<h1 style="color:#111827;font-size:22px">Welcome aboard, Ann!</h1>
<p style="color:#374151;line-height:1.5">Thanks for signing up.
Please confirm your email address to get started.</p>
<p><a href="https://acme.example/verify/8f2c"
 style="background:#2457d6;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none"
 >Verify my address</a></p>
<img src="https://tracker.example/open.gif?u=ann" width="1" height="1" alt="">
<p style="color:#9ca3af;font-size:12px">Acme Inc · 1 Example Street</p>
</td></tr></table></td></tr></table></body></html>""",
        subtype="html",
    )
    message.get_payload()[1].add_related(png(120, 40, (36, 87, 214)), "image", "png", cid=logo)
    return message


def invoice() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Billing <billing@acme.example>"
    message["To"] = "bob@example.com"
    message["Subject"] = "Your invoice #10442"
    message["Date"] = "Thu, 26 Nov 2026 09:20:00 +0000"
    message["Message-ID"] = make_msgid(domain="acme.example")
    message.set_content("Hello Bob,\n\nYour invoice for November is attached.\n\nTotal: 42.00 EUR\n")
    message.add_attachment(
        b"%PDF-1.4\n% demo\n", maintype="application", subtype="pdf", filename="invoice-10442.pdf"
    )
    message.add_attachment(png(64, 64, (27, 127, 59)), maintype="image", subtype="png", filename="chart.png")
    return message


def reset() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme Security <no-reply@acme.example>"
    message["To"] = "carol@example.com"
    message["Subject"] = "Reset your password"
    message["Message-ID"] = make_msgid(domain="acme.example")
    message.set_content("Someone asked to reset your password.\nhttps://acme.example/reset/Zx81\n")
    return message


def send_demo(smtp: HostPort) -> None:
    with smtplib.SMTP(smtp.host, smtp.port) as client:
        client.ehlo("app.local")
        client.login("app", "secret")
        client.send_message(welcome(), "hello@acme.example", ["ann@example.com"])
        client.send_message(invoice(), "billing@acme.example", ["bob@example.com", "audit@acme.example"])
    with smtplib.SMTP(smtp.host, smtp.port) as client:
        client.ehlo("worker-2.local")
        client.mail("no-reply@acme.example")
        for rcpt in ("carol@example.com", "dave@example.com", "erin@example.com"):  # the third: 452
            client.rcpt(rcpt)
        client.data(reset().as_bytes())
    with smtplib.SMTP(smtp.host, smtp.port) as client:  # a health check that delivers nothing
        client.ehlo("monitor.local")
        client.noop()


def send_mailboxes(smtp: HostPort) -> None:
    """Mail for two more mailboxes, tagged, sent last so that the other screenshots show one mailbox."""
    with smtplib.SMTP(smtp.host, smtp.port) as client:
        for box, subject, tags, body in (
            ("billing", "Payment received", "payment, paid", "Thanks for your payment of 42.00 EUR."),
            ("billing", "Invoice overdue", "reminder", "Your invoice #10431 is overdue."),
            ("shop", "Your order has shipped", "order", "Your parcel is on its way."),
        ):
            message = EmailMessage()
            message["From"] = f"Acme {box.title()} <{box}@acme.example>"
            message["To"] = "bob@example.com"
            message["Subject"] = subject
            message["Date"] = "Thu, 26 Nov 2026 09:30:00 +0000"
            message["Message-ID"] = make_msgid(domain="acme.example")
            message["X-Mailtrap-Mailbox"] = box
            message["X-Tags"] = tags
            message.set_content(f"Hello Bob,\n\n{body}\n")
            client.send_message(message)


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / f"{name}.png"))
        print("wrote", out / f"{name}.png")

    server = MailServer(
        Config(smtp=HostPort("127.0.0.1", 0), http=HostPort("127.0.0.1", 0), quiet=True, max_recipients=2)
    )
    addresses = server.start()
    try:
        send_demo(addresses.smtp)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for scheme in ("light", "dark"):
                page = browser.new_page(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
                page.goto(addresses.url)
                page.get_by_role("option").filter(has_text="Welcome to Acme").click()
                page.frame_locator("iframe.preview").get_by_text("Welcome aboard").wait_for()
                if scheme == "dark":
                    shoot(page, "dark-mode")
                    page.close()
                    continue
                shoot(page, "html-preview")
                page.get_by_role("tab", name="Transcript").click()
                page.get_by_text("Authentication successful").wait_for()
                shoot(page, "transcript")
                page.get_by_role("option").filter(has_text="Your invoice").click()
                page.get_by_role("tab", name="Attachments").click()
                page.get_by_text("invoice-10442.pdf").wait_for()
                shoot(page, "attachments")
                page.get_by_role("option").filter(has_text="Reset your password").click()
                page.get_by_role("tab", name="Envelope").click()
                shoot(page, "envelope")
                page.goto(addresses.url + "/#/sessions")
                page.get_by_text("delivered nothing").wait_for()
                page.get_by_role("button", name="Show transcript").first.click()
                shoot(page, "sessions")
                page.close()
            phone = browser.new_page(viewport={"width": 390, "height": 780}, device_scale_factor=1)
            phone.goto(addresses.url)
            phone.get_by_role("option").first.wait_for()
            shoot(phone, "phone-list")
            send_mailboxes(addresses.smtp)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(addresses.url + "/#/mailbox/billing/")
            page.get_by_role("option").filter(has_text="Payment received").click()
            page.locator("#message-panel").get_by_text("Thanks for your payment").wait_for()
            shoot(page, "mailboxes")
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
