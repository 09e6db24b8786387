"""Shared by the IMAP tests: a server with an IMAP listener, and messages sent to it over SMTP."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, HostPort
from tests.conftest import free_config

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def imap_config(**changes: object) -> Config:
    return free_config(imap=HostPort("127.0.0.1", 0)).replace(**changes)


def imap_address(server: MailServer) -> tuple[str, int]:
    assert server.addresses is not None and server.addresses.imap is not None
    return server.addresses.imap.host, server.addresses.imap.port


def with_attachment(subject: str = "Your invoice") -> bytes:
    message = EmailMessage()
    message["From"] = "Shop <shop@example.com>"
    message["To"] = "Ann Lee <ann@example.com>"
    message["Subject"] = subject
    message["Message-ID"] = "<invoice-1@example.com>"
    message.set_content("Hello Ann,\nyour invoice is attached.\n")
    message.add_alternative("<p>Hello Ann, your invoice is attached.</p>", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice.pdf")
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def plain(subject: str, body: str = "Just text.\r\n", to: str = "ann@example.com") -> bytes:
    return (
        f"From: App <app@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@example.com>\r\n\r\n{body}"
    ).encode()


def send(
    server: MailServer, raw: bytes, to: str = "ann@example.com", tls: ssl.SSLContext | None = None
) -> None:
    assert server.addresses is not None
    with smtplib.SMTP(server.addresses.smtp.host, server.addresses.smtp.port, timeout=30) as client:
        if tls is not None:
            client.starttls(context=tls)
        client.sendmail("shop@example.com", [to], raw)
