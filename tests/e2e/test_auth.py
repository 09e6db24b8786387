"""SMTP AUTH with real clients: PLAIN, LOGIN and CRAM-MD5, accept-any or --auth-file, --require-auth."""

from __future__ import annotations

import asyncio
import base64
import logging
import smtplib
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.helpers import needs_swaks, serving, session_of, simple_message, swaks
from tests.test_cli import run_cli

MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")
PASSWORD = "correct-horse-battery"
AUTH_FILE = f"# who may send\n\nalice:{PASSWORD}\nbob:b0b:with:colons\n"


def login(client: smtplib.SMTP, mechanism: str, user: str, password: str) -> tuple[int, bytes]:
    """Authenticate with exactly this mechanism (smtplib's login() would try each in turn)."""
    client.user, client.password = user, password
    method = {
        "PLAIN": client.auth_plain,
        "LOGIN": client.auth_login,
        "CRAM-MD5": client.auth_cram_md5,
    }[mechanism]
    try:
        # LOGIN without an initial response: the username travels as an answer to a 334 too.
        return client.auth(mechanism, method, initial_response_ok=mechanism != "LOGIN")
    except smtplib.SMTPAuthenticationError as error:
        return error.smtp_code, error.smtp_error


def secret_forms(password: str) -> list[str]:
    raw = password.encode()
    return [password, base64.b64encode(raw).decode(), base64.b64encode(b"\0alice\0" + raw).decode()]


def test_any_credentials_are_accepted_by_default() -> None:
    with serving(free_config()) as server:
        assert server.addresses is not None
        address = server.addresses.smtp
        with httpx.Client(base_url=server.addresses.url) as api:
            for mechanism in MECHANISMS:
                with smtplib.SMTP(address.host, address.port, timeout=30) as client:
                    client.ehlo("x")
                    assert set(client.esmtp_features["auth"].split()) == set(MECHANISMS)
                    assert login(client, mechanism, f"who-{mechanism}", "anything")[0] == 235
                    client.sendmail("app@example.com", ["ann@example.com"], simple_message().as_bytes())
                message_id = api.get("/api/messages").json()["messages"][0]["id"]
                expected = {"mechanism": mechanism, "username": f"who-{mechanism}"}
                assert session_of(api, message_id)["auth"] == expected


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.txt"
    path.write_text(AUTH_FILE)
    return path


@pytest.fixture
def server_config(auth_file: Path) -> Config:
    return free_config(auth_file=auth_file)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_auth_file_accepts_its_users(
    mechanism: str, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("x")
        assert login(client, mechanism, "bob", "b0b:with:colons")[0] == 235
        client.sendmail("bob@example.com", ["ann@example.com"], simple_message().as_bytes())
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    assert session_of(api, message_id)["auth"] == {"mechanism": mechanism, "username": "bob"}


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("mallory", PASSWORD)])
def test_wrong_credentials_get_535_at_once_and_the_session_goes_on(
    mechanism: str, user: str, password: str, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    with smtplib.SMTP(*smtp_address, timeout=10) as client:  # a hang would time out
        client.ehlo("x")
        code, text = login(client, mechanism, user, password)
        assert (code, text[:5]) == (535, b"5.7.8"), text
        assert login(client, mechanism, "alice", PASSWORD)[0] == 235
    session = session_of(api)
    assert session["auth"] == {"mechanism": mechanism, "username": "alice"}
    assert any(line["line"].startswith("535 5.7.8") for line in session["transcript"])


def test_smtplib_login_tries_every_mechanism_then_fails(smtp_address: tuple[str, int]) -> None:
    with smtplib.SMTP(*smtp_address, timeout=10) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
            client.login("alice", "nope")
        assert failure.value.smtp_code == 535


def test_aiosmtplib_login(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    async def deliver() -> None:
        await aiosmtplib.send(
            simple_message(subject="aiosmtplib login"),
            hostname=smtp_address[0],
            port=smtp_address[1],
            start_tls=False,
            username="alice",
            password=PASSWORD,
            timeout=30,
        )

    asyncio.run(deliver())
    summary = api.get("/api/messages").json()["messages"][0]
    assert summary["subject"] == "aiosmtplib login"
    assert session_of(api, summary["id"])["auth"]["username"] == "alice"


@needs_swaks
@pytest.mark.parametrize(("password", "expected"), [(PASSWORD, 0), ("wrong", 28)])
def test_swaks_cram_md5_against_the_auth_file(
    password: str, expected: int, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    result = swaks(
        "--server", smtp_address[0], "--port", str(smtp_address[1]),
        "--to", "qa@example.com", "--from", "swaks@example.com",
        "--auth", "CRAM-MD5", "--auth-user", "alice", "--auth-password", password,
    )  # fmt: skip
    assert result.returncode == expected, result.stdout + result.stderr  # swaks: 28 = AUTH failed
    assert api.get("/api/messages").json()["total"] == (1 if expected == 0 else 0)
    session = session_of(api)
    assert session["auth"] == ({"mechanism": "CRAM-MD5", "username": "alice"} if expected == 0 else None)


def test_secrets_reach_no_transcript_api_or_log(
    smtp_address: tuple[str, int], api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for mechanism in MECHANISMS:
        with smtplib.SMTP(*smtp_address, timeout=30) as client:
            client.ehlo("x")
            assert login(client, mechanism, "alice", PASSWORD)[0] == 235
            client.sendmail("app@example.com", ["ann@example.com"], simple_message().as_bytes())
        with smtplib.SMTP(*smtp_address, timeout=30) as client:
            client.ehlo("x")
            assert login(client, mechanism, "alice", PASSWORD + "-typo")[0] == 535
    session_of(api)
    seen = "\n".join(
        [
            api.get("/api/sessions", params={"limit": 100}).text,
            api.get("/api/messages").text,
            *(
                api.get(f"/api/messages/{m['id']}/raw").text
                for m in api.get("/api/messages").json()["messages"]
            ),
            caplog.text,
        ]
    )
    assert "alice" in seen  # the username is recorded ...
    for form in secret_forms(PASSWORD):
        assert form not in seen  # ... the password in no form


@pytest.fixture
def require_auth_server(auth_file: Path) -> Iterator[MailServer]:
    with serving(free_config(require_auth=True, auth_file=auth_file)) as server:
        yield server


def test_require_auth_refuses_mail_until_authenticated(require_auth_server: MailServer) -> None:
    assert require_auth_server.addresses is not None
    address = require_auth_server.addresses.smtp
    with smtplib.SMTP(address.host, address.port, timeout=30) as client:
        client.ehlo("x")
        code, text = client.mail("app@example.com")
        assert (code, text) == (530, b"5.7.0 Authentication required")
        assert login(client, "PLAIN", "alice", "wrong")[0] == 535
        assert client.mail("app@example.com")[0] == 530
        assert login(client, "PLAIN", "alice", PASSWORD)[0] == 235
        assert client.mail("app@example.com")[0] == 250
        assert client.rcpt("ann@example.com")[0] == 250
        assert client.data(simple_message().as_bytes())[0] == 250


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("alice\n", "users.txt:1: expected user:password"), ("# nobody\n", "has no user:password line")],
)
def test_a_bad_auth_file_stops_start_up(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "users.txt"
    path.write_text(content)
    result = run_cli("--auth-file", str(path), "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0")
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
