"""TLS with real clients: STARTTLS and implicit TLS, given or self-signed certificates, --require-tls."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
import httpx
import pytest
import trustme

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config, HostPort
from tests.conftest import free_config
from tests.e2e.helpers import needs_swaks, serving, session_of, simple_message, swaks

ANY_PORT = HostPort("127.0.0.1", 0)


@dataclass(frozen=True)
class TLSFiles:
    ca: trustme.CA
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture
def tls_files(tmp_path: Path) -> TLSFiles:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    for blob in leaf.cert_chain_pems:
        blob.write_to_path(str(cert), append=True)
    leaf.private_key_pem.write_to_path(str(key))
    return TLSFiles(ca, cert, key)


@pytest.fixture
def server_config(tls_files: TLSFiles) -> Config:
    return free_config(tls_cert=tls_files.cert, tls_key=tls_files.key, smtps=ANY_PORT)


@pytest.fixture
def smtps_address(server: MailServer) -> tuple[str, int]:
    assert server.addresses is not None and server.addresses.smtps is not None
    return server.addresses.smtps.host, server.addresses.smtps.port


def test_starttls_records_version_and_cipher(
    smtp_address: tuple[str, int], tls_files: TLSFiles, api: httpx.Client
) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("client.example")
        assert client.has_extn("starttls")
        code, _ = client.starttls(context=tls_files.client_context())
        assert code == 220
        tls_socket = client.sock
        assert isinstance(tls_socket, ssl.SSLSocket)
        version, cipher = tls_socket.version(), tls_socket.cipher()
        client.ehlo("client.example")
        assert not client.has_extn("starttls")  # RFC 3207 §4.2: not offered twice
        client.login("alice", "pw")
        client.sendmail("app@example.com", ["ann@example.com"], simple_message().as_bytes())
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    session = session_of(api, message_id)
    assert version is not None and version.startswith("TLSv1.")
    assert cipher is not None
    assert session["tls"] == {"version": version, "cipher": cipher[0]}
    assert session["auth"] == {"mechanism": "CRAM-MD5", "username": "alice"}  # smtplib's first choice
    client_lines = [line["line"] for line in session["transcript"] if line["dir"] == "C"]
    assert client_lines.count("ehlo client.example") == 2  # before and after the upgrade
    assert "STARTTLS" in client_lines


def test_implicit_tls_with_smtp_ssl(
    smtps_address: tuple[str, int], tls_files: TLSFiles, api: httpx.Client
) -> None:
    with smtplib.SMTP_SSL("localhost", smtps_address[1], context=tls_files.client_context(), timeout=30) as c:
        c.ehlo("client.example")
        assert not c.has_extn("starttls")  # already encrypted
        c.login("alice", "pw")
        c.sendmail("app@example.com", ["ann@example.com"], simple_message(subject="over 465").as_bytes())
    summary = api.get("/api/messages").json()["messages"][0]
    assert summary["subject"] == "over 465"
    session = session_of(api, summary["id"])
    assert session["tls"]["version"].startswith("TLSv1.")
    assert session["tls"]["cipher"]
    assert session["transcript"][0]["line"].startswith("220 ")


def test_plaintext_session_has_no_tls(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.sendmail("app@example.com", ["ann@example.com"], simple_message().as_bytes())
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    assert session_of(api, message_id)["tls"] is None


def test_aiosmtplib_starttls_and_implicit_tls(
    smtp_address: tuple[str, int], smtps_address: tuple[str, int], tls_files: TLSFiles, api: httpx.Client
) -> None:
    async def deliver() -> None:
        await aiosmtplib.send(
            simple_message(subject="aiosmtplib starttls"),
            hostname="localhost",
            port=smtp_address[1],
            start_tls=True,
            tls_context=tls_files.client_context(),
            username="carol",
            password="pw",
            timeout=30,
        )
        await aiosmtplib.send(
            simple_message(subject="aiosmtplib implicit"),
            hostname="localhost",
            port=smtps_address[1],
            use_tls=True,
            tls_context=tls_files.client_context(),
            timeout=30,
        )

    asyncio.run(deliver())
    messages = api.get("/api/messages").json()["messages"]
    assert {m["subject"] for m in messages} == {"aiosmtplib starttls", "aiosmtplib implicit"}
    for message in messages:
        assert session_of(api, message["id"])["tls"] is not None


def test_a_client_that_refuses_the_certificate_at_starttls_leaves_a_recorded_session(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    untrusting = ssl.create_default_context()  # does not know the test CA
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("x")
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=untrusting)
    session = session_of(api)
    assert session["error"].startswith("TLS handshake failed"), session["error"]
    assert session["tls"] is None


@pytest.fixture
def require_tls_server(tls_files: TLSFiles) -> Iterator[MailServer]:
    config = free_config(tls_cert=tls_files.cert, tls_key=tls_files.key, smtps=ANY_PORT, require_tls=True)
    with serving(config) as server:
        yield server


def test_require_tls_refuses_mail_before_starttls(
    require_tls_server: MailServer, tls_files: TLSFiles
) -> None:
    addresses = require_tls_server.addresses
    assert addresses is not None and addresses.smtps is not None
    with smtplib.SMTP(addresses.smtp.host, addresses.smtp.port, timeout=30) as client:
        client.ehlo("x")
        code, text = client.mail("app@example.com")
        assert (code, text[:5]) == (530, b"5.7.0"), text
        assert client.docmd("AUTH", "PLAIN AGFsaWNlAHB3")[0] == 530
        assert client.noop()[0] == 250  # allowed before STARTTLS (RFC 3207 §4)
        client.starttls(context=tls_files.client_context())
        client.ehlo("x")
        assert client.mail("app@example.com")[0] == 250
    # The implicit-TLS listener is encrypted already: nothing to require.
    with smtplib.SMTP_SSL(
        "localhost", addresses.smtps.port, context=tls_files.client_context(), timeout=30
    ) as client:
        client.ehlo("x")
        assert client.mail("app@example.com")[0] == 250


def test_self_signed_certificate_verifies_for_localhost_and_loopback() -> None:
    with serving(free_config(tls_self_signed=True, smtps=ANY_PORT)) as server:
        assert server.tls_certificate is not None and server.addresses is not None
        assert server.addresses.smtps is not None
        context = ssl.create_default_context(cadata=server.tls_certificate.decode())
        for host in ("localhost", "127.0.0.1"):
            with smtplib.SMTP_SSL(host, server.addresses.smtps.port, context=context, timeout=30) as client:
                assert client.noop()[0] == 250
        with smtplib.SMTP(server.addresses.smtp.host, server.addresses.smtp.port, timeout=30) as client:
            client.ehlo("x")
            assert client.has_extn("starttls")
            assert client.starttls(context=context)[0] == 220


@needs_swaks
@pytest.mark.parametrize("mode", ["--tls", "--tlsc"])
def test_swaks_over_tls(
    mode: str, smtp_address: tuple[str, int], smtps_address: tuple[str, int], api: httpx.Client
) -> None:
    port = smtp_address[1] if mode == "--tls" else smtps_address[1]
    result = swaks(
        "--server", "127.0.0.1", "--port", str(port), mode,
        "--to", "qa@example.com", "--from", "swaks@example.com",
        "--auth", "LOGIN", "--auth-user", "qa", "--auth-password", "pw-swaks",
        "--header", f"Subject: swaks {mode}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = api.get("/api/messages").json()["messages"][0]
    assert summary["subject"] == f"swaks {mode}"
    session = session_of(api, summary["id"])
    assert session["tls"] is not None
    assert session["auth"] == {"mechanism": "LOGIN", "username": "qa"}
