"""Helpers for the real-socket tests."""

from __future__ import annotations

import smtplib
from email import policy
from email.message import EmailMessage


def crlf(raw: bytes) -> bytes:
    """These bytes with every line ending made CRLF, as the corpus README asks before sending."""
    fixed = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return fixed if fixed.endswith(b"\r\n") else fixed + b"\r\n"


def simple_message(
    subject: str = "Hello", to: str = "ann@example.com", body: str = "Hi Ann!\n"
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)  # CRLF line endings, as on the wire
    message["From"] = "App <app@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Thu, 26 Nov 2026 10:00:00 +0000"
    message["Message-ID"] = "<test-1@example.com>"
    message.set_content(body)
    return message


def send(
    address: tuple[str, int],
    raw: bytes,
    sender: str = "app@example.com",
    recipients: tuple[str, ...] = ("ann@example.com",),
) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(*address, timeout=30) as client:
        return client.sendmail(sender, list(recipients), raw)


def reply_of(address: tuple[str, int], raw: bytes) -> tuple[int, bytes]:
    """Send one message and return the DATA reply (code, text)."""
    with smtplib.SMTP(*address, timeout=30) as client:
        client.ehlo("test.example")
        client.mail("app@example.com")
        client.rcpt("ann@example.com")
        return client.data(raw)
