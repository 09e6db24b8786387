"""The relay's TLS modes against a self-signed upstream, with and without verification, and AUTH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import HostPort, RelayTarget
from tests.conftest import free_config
from tests.relay.helpers import api_of, latest_id, messages, relaying, running, send, wait_until


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def upstream(ca: trustme.CA, tmp_path: Path) -> Iterator[MailServer]:
    """An upstream with a certificate for 127.0.0.1 from a CA nobody trusts by default, STARTTLS and SMTPS."""
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    for blob in leaf.cert_chain_pems:
        blob.write_to_path(str(cert), append=True)
    leaf.private_key_pem.write_to_path(str(key))
    with running(free_config(tls_cert=cert, tls_key=key, smtps=HostPort("127.0.0.1", 0))) as server:
        yield server


def smtps_target(server: MailServer) -> RelayTarget:
    assert server.addresses is not None and server.addresses.smtps is not None
    return RelayTarget(server.addresses.smtps.host, server.addresses.smtps.port)


def release(config_changes: dict[str, object], upstream: MailServer) -> tuple[int, dict[str, object]]:
    with running(relaying(upstream, **config_changes)) as relay, api_of(relay) as api:
        send(relay)
        response = api.post(f"/api/messages/{latest_id(api)}/release", json={})
        return response.status_code, response.json()


def upstream_tls(upstream: MailServer) -> object:
    with api_of(upstream) as up:
        arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
        return up.get(f"/api/messages/{arrived['id']}/session").json()["tls"]


def test_starttls_with_a_trusted_certificate(
    upstream: MailServer, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # how the README says to trust a private CA
    status, record = release({"relay_tls": "starttls"}, upstream)
    assert status == 200, record
    sent = [line["line"] for line in record["transcript"] if line["dir"] == "C"]  # type: ignore[union-attr, index]
    assert sent[:3] == ["EHLO mailtrap-lite", "STARTTLS", "EHLO mailtrap-lite"]
    assert upstream_tls(upstream) is not None


def test_starttls_refuses_an_unverified_certificate_unless_insecure(upstream: MailServer) -> None:
    status, record = release({"relay_tls": "starttls"}, upstream)
    assert status == 502
    assert record["result"] == "deferred"
    assert "certificate" in str(record["error"]).lower()
    with api_of(upstream) as up:
        assert messages(up) == []
    status, record = release({"relay_tls": "starttls", "relay_insecure": True}, upstream)
    assert status == 200, record
    assert upstream_tls(upstream) is not None


def test_implicit_tls_verified_and_insecure(
    upstream: MailServer, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = smtps_target(upstream)
    status, record = release({"relay": target, "relay_tls": "tls"}, upstream)
    assert status == 502 and record["result"] == "deferred"
    status, record = release({"relay": target, "relay_tls": "tls", "relay_insecure": True}, upstream)
    assert status == 200, record
    sent = [line["line"] for line in record["transcript"] if line["dir"] == "C"]  # type: ignore[union-attr, index]
    assert "STARTTLS" not in sent
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    status, record = release({"relay": target, "relay_tls": "tls"}, upstream)
    assert status == 200, record


def test_starttls_required_but_not_offered_is_deferred() -> None:
    with running(free_config()) as plain:
        status, record = release({"relay_tls": "starttls"}, plain)
        assert status == 502
        assert record["result"] == "deferred" and "STARTTLS" in str(record["error"])


def test_auth_upstream_with_the_password_masked(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("relay:s3cret-pass\n")
    with running(free_config(auth_file=users, require_auth=True)) as upstream:
        good = {"relay_user": "relay", "relay_password": "s3cret-pass"}
        status, record = release(good, upstream)
        assert status == 200, record
        lines = [line["line"] for line in record["transcript"]]  # type: ignore[union-attr, index]
        assert not any("s3cret" in line for line in lines)
        # aiosmtplib picks CRAM-MD5 first: the line answering the 334 challenge is masked.
        auth = next(n for n, line in enumerate(lines) if line.startswith("AUTH "))
        assert lines[auth + 1].startswith("334 ") and lines[auth + 2] == "****"
        assert any(line.startswith("235") for line in lines)
        with api_of(upstream) as up:
            arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
            session = up.get(f"/api/messages/{arrived['id']}/session").json()
            assert session["auth"]["username"] == "relay"
        status, record = release({"relay_user": "relay", "relay_password": "wrong"}, upstream)
        assert status == 502
        assert (record["result"], record["code"]) == ("refused", 535)
