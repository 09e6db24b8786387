"""The mail every client test starts from, sent over SMTP."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

PDF = b"%PDF-1.4 invoice"


def welcome() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <shop@app.example>"
    message["To"] = "Ann Lee <ann@example.com>"
    message["Subject"] = "Welcome Ann"
    message["X-Campaign"] = "signup"
    message.set_content("Hello Ann, confirm at https://app.example/confirm/ann\n")
    message.add_alternative('<p>Hello <a href="https://app.example/confirm/ann">Ann</a></p>', subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="terms.pdf")
    return message


def reset() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <shop@app.example>"
    message["To"] = "bob@example.com"
    message["Subject"] = "Reset your password"
    message.set_content("Bob, reset it at https://app.example/reset/bob\n")
    return message


def send_both(smtp_address: tuple[str, int]) -> None:
    """Welcome first, then the reset: the reset is the newest."""
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.send_message(welcome(), from_addr="bounce@app.example")
        client.send_message(reset(), from_addr="bounce@app.example")
