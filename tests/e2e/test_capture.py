"""A message sent with real SMTP clients is stored whole, with its envelope and transcript, and served."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import subprocess

import aiosmtplib
import httpx
import pytest

from tests.e2e.helpers import crlf, reply_of, send, simple_message


def test_message_is_listed_viewable_and_byte_identical(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    raw = simple_message(subject="Reset your password").as_bytes()
    send(smtp_address, raw)

    listing = api.get("/api/messages").json()
    assert listing["total"] == 1 and listing["count"] == 1 and listing["unread"] == 1
    summary = listing["messages"][0]
    assert summary["subject"] == "Reset your password"
    assert summary["from"] == {"name": "App", "address": "app@example.com"}
    assert summary["to"] == [{"name": "", "address": "ann@example.com"}]
    assert summary["envelope"]["mail_from"] == "app@example.com"
    assert summary["envelope"]["recipients"][0]["code"] == 250

    full = api.get(f"/api/messages/{summary['id']}").json()
    assert full["text"].strip() == "Hi Ann!"
    assert ["Subject", "Reset your password"] in full["headers"]

    response = api.get(f"/api/messages/{summary['id']}/raw")
    assert response.headers["content-type"].startswith("message/rfc822")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content == crlf(raw)
    assert api.get("/api/messages/latest").json()["id"] == summary["id"]


def test_data_reply_names_the_stored_id(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    code, text = reply_of(smtp_address, simple_message().as_bytes())
    assert code == 250
    assert text.startswith(b"2.0.0 Ok: queued as ")
    message_id = text.rsplit(b" ", 1)[1].decode()
    assert api.get(f"/api/messages/{message_id}").status_code == 200


def test_transcript_records_every_line_and_masks_auth(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("client.example")
        client.login("alice", "s3cret-password")
        client.sendmail("app@example.com", ["ann@example.com"], simple_message().as_bytes())
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    session = api.get(f"/api/messages/{message_id}/session").json()

    lines = [(line["dir"], line["line"]) for line in session["transcript"]]
    text = "\n".join(line for _, line in lines)
    assert "s3cret" not in text and "czNjcmV0" not in text  # neither plain nor base64
    assert lines[0][0] == "S" and lines[0][1].startswith("220 ")
    assert ("C", "ehlo client.example") in lines
    # smtplib's login() prefers CRAM-MD5: its answer to the challenge is masked like any secret.
    assert ("C", "AUTH CRAM-MD5") in lines and ("C", "****") in lines
    assert ("C", "mail FROM:<app@example.com> size=" + line_size(lines)) in lines or any(
        line.lower().startswith("mail from:<app@example.com>") for _, line in lines
    )
    assert any(d == "C" and line.startswith("<DATA ") and line.endswith(" bytes>") for d, line in lines)
    assert ("S", f"250 2.0.0 Ok: queued as {message_id}") in lines
    assert session["auth"]["username"] == "alice"
    assert session["helo"] == "client.example"
    assert message_id in session["message_ids"]
    offsets = [line["t_ms"] for line in session["transcript"]]
    assert offsets == sorted(offsets)


def line_size(lines: list[tuple[str, str]]) -> str:
    for _, line in lines:
        if "size=" in line.lower():
            return line.lower().split("size=")[1]
    return ""


def test_auth_login_mechanism_masks_each_answer(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("client.example")
        client.user, client.password = "bob", "hunter2"
        code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
        assert code == 235
        client.sendmail("bob@example.com", ["ann@example.com"], simple_message().as_bytes())
    message_id = api.get("/api/messages").json()["messages"][0]["id"]
    session = api.get(f"/api/messages/{message_id}/session").json()
    client_lines = [line["line"] for line in session["transcript"] if line["dir"] == "C"]
    assert "AUTH LOGIN" in client_lines
    assert client_lines.count("****") == 2  # the username and the password answers
    assert "aHVudGVyMg==" not in str(session)  # base64 of the password
    assert session["auth"] == {"mechanism": "LOGIN", "username": "bob"}


def test_every_rcpt_reply_and_bcc(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    raw = simple_message(to="ann@example.com").as_bytes()
    send(smtp_address, raw, recipients=("ann@example.com", "hidden@example.com"))
    summary = api.get("/api/messages").json()["messages"][0]
    assert [r["address"] for r in summary["envelope"]["recipients"]] == [
        "ann@example.com",
        "hidden@example.com",
    ]
    assert summary["bcc"] == [{"name": "", "address": "hidden@example.com"}]


def test_rejected_rcpt_is_recorded_with_its_code(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("x")
        client.mail("app@example.com")
        code, _ = client.rcpt("bob@example.com", ["NOTIFY=NEVER"])
        assert code == 555
        assert client.rcpt("ann@example.com")[0] == 250
        assert client.data(simple_message().as_bytes())[0] == 250
    recipients = api.get("/api/messages").json()["messages"][0]["envelope"]["recipients"]
    assert [(r["address"], r["code"]) for r in recipients] == [
        ("bob@example.com", 555),
        ("ann@example.com", 250),
    ]
    assert recipients[0]["reply"].startswith("5.5.4 ")


def test_aiosmtplib_client(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    async def deliver() -> None:
        await aiosmtplib.send(
            simple_message(subject="from aiosmtplib"),
            hostname=smtp_address[0],
            port=smtp_address[1],
            start_tls=False,
            timeout=30,
        )

    asyncio.run(deliver())
    assert api.get("/api/messages").json()["messages"][0]["subject"] == "from aiosmtplib"


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (apt-get install swaks)")
def test_swaks_client(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    result = subprocess.run(
        [
            "swaks",
            "--server",
            smtp_address[0],
            "--port",
            str(smtp_address[1]),
            "--to",
            "qa@example.com",
            "--from",
            "swaks@example.com",
            "--header",
            "Subject: via swaks",
            "--auth",
            "PLAIN",
            "--auth-user",
            "qa",
            "--auth-password",
            "pw-swaks",
            "--timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = api.get("/api/messages").json()["messages"][0]
    assert summary["subject"] == "via swaks"
    session = api.get(f"/api/messages/{summary['id']}/session").json()
    assert session["auth"]["username"] == "qa"
    assert "pw-swaks" not in str(session)


def test_session_that_delivers_nothing_is_kept(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("idle.example")
        client.noop()
    for _ in range(100):
        sessions = api.get("/api/sessions").json()
        if sessions["total"] and sessions["sessions"][0]["ended_at"]:
            break
        asyncio.run(asyncio.sleep(0.02))
    session = sessions["sessions"][0]
    assert session["helo"] == "idle.example"
    assert session["message_ids"] == []
    assert session["error"] is None
    assert session["transcript"][-1]["line"].startswith("221")
    one = api.get(f"/api/sessions/{session['id']}").json()
    assert one["id"] == session["id"]


def test_ehlo_advertises_the_extensions(smtp_address: tuple[str, int]) -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.ehlo("x")
        for extension in ("size", "8bitmime", "smtputf8", "auth", "enhancedstatuscodes"):
            assert client.has_extn(extension), extension
        assert not client.has_extn("starttls")
        assert set(client.esmtp_features["auth"].split()) >= {"PLAIN", "LOGIN"}
