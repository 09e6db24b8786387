"""STARTTLS, implicit TLS, --require-tls, --auth-file logins, and the listener options."""

from __future__ import annotations

import imaplib
import ssl
import time
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.cli import describe
from mailtrap_lite.config import HostPort, MailboxAccess, build_config
from mailtrap_lite.errors import ConfigError
from tests.imap.helpers import imap_address, imap_config, plain, send
from tests.imap.wire import Wire


def client_context(server: MailServer) -> ssl.SSLContext:
    assert server.tls_certificate is not None
    return ssl.create_default_context(cadata=server.tls_certificate.decode())


def run(config_changes: dict[str, object]) -> MailServer:
    server = MailServer(imap_config(**config_changes))
    server.start()
    return server


def test_starttls_and_implicit_tls_with_require_tls() -> None:
    server = run({"tls_self_signed": True, "require_tls": True, "imaps": HostPort("127.0.0.1", 0)})
    try:
        send(server, plain("over TLS"), tls=client_context(server))
        with Wire(imap_address(server)) as wire:
            assert b"STARTTLS" in wire.greeting and b"LOGINDISABLED" in wire.greeting
            assert b"AUTH=PLAIN" not in wire.greeting
            assert wire.ask("a", "LOGIN default x")[-1].startswith(b"a NO [PRIVACYREQUIRED]")
            assert wire.ask("b", "AUTHENTICATE PLAIN AGEAeA==")[-1].startswith(b"b NO [PRIVACYREQUIRED]")
        client = imaplib.IMAP4(*imap_address(server), timeout=30)
        client.starttls(client_context(server))
        _, caps = client.capability()
        assert b"LOGINDISABLED" not in caps[0] and b"STARTTLS" not in caps[0]  # type: ignore[operator]
        client.login("default", "x")
        assert client.select("INBOX") == ("OK", [b"1"])
        client.logout()
        assert server.addresses is not None and server.addresses.imaps is not None
        secure = imaplib.IMAP4_SSL(
            server.addresses.imaps.host,
            server.addresses.imaps.port,
            ssl_context=client_context(server),
            timeout=30,
        )
        secure.login("default", "x")
        assert secure.select()[0] == "OK"
        _, data = secure.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1] == b"Subject: over TLS\r\n\r\n"  # type: ignore[index]
        secure.logout()
        assert "  IMAP   127.0.0.1:" in describe(server) and "  IMAPS  127.0.0.1:" in describe(server)
        # Both logged-in sessions, after STARTTLS and over IMAPS, record the TLS they ran on.
        deadline = time.monotonic() + 20
        while True:
            listed = httpx.get(f"{server.addresses.url}/api/sessions", timeout=10).json()["sessions"]
            logged_in = [s for s in listed if s["protocol"] == "imap" and s["auth"] and s["ended_at"]]
            if len(logged_in) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(logged_in) == 2 and all(
            s["tls"] and s["tls"]["version"].startswith("TLS") for s in logged_in
        )
    finally:
        server.stop()


def test_with_an_auth_file_only_its_users_log_in_and_failures_are_no(tmp_path: Path) -> None:
    auth = tmp_path / "users"
    auth.write_text("Robot:s3cret\n")
    server = run({"auth_file": auth})
    try:
        client = imaplib.IMAP4(*imap_address(server), timeout=30)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login("Robot", "wrong")
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login("nobody", "s3cret")
        assert client.login("Robot", "s3cret")[0] == "OK"
        client.logout()
    finally:
        server.stop()


def test_a_username_that_cannot_name_a_mailbox_is_refused() -> None:
    server = run({})
    try:
        client = imaplib.IMAP4(*imap_address(server), timeout=30)
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login("not!a/mailbox", "x")
        client.logout()
    finally:
        server.stop()


def test_listener_options_from_flags_and_environment() -> None:
    config = build_config(
        {"imap": "127.0.0.1:1143"},
        environ={"MAILTRAP_LITE_IMAPS": ":1993", "MAILTRAP_LITE_TLS_SELF_SIGNED": "1"},
    )
    assert config.imap == HostPort("127.0.0.1", 1143) and config.imaps == HostPort("127.0.0.1", 1993)
    assert build_config({}, environ={}).imap is None
    with pytest.raises(ConfigError, match="--imaps needs TLS material"):
        build_config({"imaps": "127.0.0.1:0"}, environ={})


def test_mailbox_access_lists_the_other_mailboxes_a_login_may_read(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("ann:pw\nbob:pw\n")
    server = run(
        {"auth_file": users, "ui_auth": users, "mailbox_access": (MailboxAccess("ann", ("shop", "billing")),)}
    )
    try:
        send(server, b"X-Mailtrap-Mailbox: shop\r\n" + plain("for the shop"))
        ann = imaplib.IMAP4(*imap_address(server), timeout=30)
        ann.login("ann", "pw")
        _, folders = ann.list()
        assert folders == [
            b'(\\HasNoChildren) "/" INBOX',
            b'(\\HasNoChildren) "/" shop',
            b'(\\HasNoChildren) "/" billing',
        ]
        assert ann.select("shop") == ("OK", [b"1"])
        _, data = ann.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1] == b"Subject: for the shop\r\n\r\n"  # type: ignore[index]
        assert ann.status("shop", "(MESSAGES)")[1] == [b"shop (MESSAGES 1)"]
        ann.logout()
        bob = imaplib.IMAP4(*imap_address(server), timeout=30)
        bob.login("bob", "pw")
        assert bob.list()[1] == [b'(\\HasNoChildren) "/" INBOX']
        assert bob.select("shop")[0] == "NO"
        bob.logout()
    finally:
        server.stop()


def test_commands_sent_with_starttls_are_dropped() -> None:
    server = run({"tls_self_signed": True})
    try:
        with Wire(imap_address(server)) as wire:
            wire.send(b"a STARTTLS\r\nb LOGIN default x\r\n")  # the second line rides in plaintext
            assert wire.line() == b"a OK begin TLS negotiation now\r\n"
            wire.sock = client_context(server).wrap_socket(wire.sock, server_hostname="localhost")
            assert wire.ask("c", "SELECT INBOX") == [b"c BAD log in first\r\n"]  # b was never run
    finally:
        server.stop()
