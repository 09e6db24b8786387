"""A server with POP3 on free ports, plain (STLS offered) and implicit TLS, and helpers to reach it."""

from __future__ import annotations

import os
import poplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, HostPort
from tests.conftest import free_config
from tests.e2e.helpers import simple_message

ANY = HostPort("127.0.0.1", 0)


def pop3_config(**changes: object) -> Config:
    return free_config(pop3=ANY, pop3s=ANY, tls_self_signed=True).replace(**changes)


@pytest.fixture
def server_config() -> Config:
    return pop3_config()


def client_context(server: MailServer) -> ssl.SSLContext:
    assert server.tls_certificate is not None
    return ssl.create_default_context(cadata=server.tls_certificate.decode())


def connect(server: MailServer, how: str = "plain") -> poplib.POP3:
    """A poplib client: ``plain``, ``stls`` (upgraded at once) or ``ssl`` (the implicit-TLS port)."""
    assert server.addresses is not None and server.addresses.pop3 is not None
    if how == "ssl":
        assert server.addresses.pop3s is not None
        address = server.addresses.pop3s
        return poplib.POP3_SSL(address.host, address.port, context=client_context(server), timeout=30)
    client = poplib.POP3(server.addresses.pop3.host, server.addresses.pop3.port, timeout=30)
    if how == "stls":
        client.stls(client_context(server))
    return client


@pytest.fixture
def pop3(server: MailServer) -> Iterator[poplib.POP3]:
    client = connect(server)
    try:
        yield client
    finally:
        client.close()


def with_attachment(subject: str = "Invoice", size: int = 300_000) -> EmailMessage:
    """A message with a binary attachment larger than one send chunk, and body lines that need stuffing."""
    message = simple_message(subject=subject, body=".hidden line\n..two dots\nend\n")
    message.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream", filename="a.bin")
    return message


def retrieved(lines: list[bytes]) -> bytes:
    """What poplib's RETR returned (lines already unstuffed), as the bytes of the message."""
    return b"".join(line + b"\r\n" for line in lines)
