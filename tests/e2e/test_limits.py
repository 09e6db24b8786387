"""Limits, each with its reply: size (552), recipients (452), command length (500), idle (421), transcript."""

from __future__ import annotations

import smtplib
import socket

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from mailtrap_lite.smtp.transcript import MAX_LINE_CHARS, MAX_LINES
from tests.conftest import free_config
from tests.e2e.helpers import reply_of, serving, session_of
from tests.e2e.test_bad_input import raw_session


@pytest.fixture
def server_config() -> Config:
    return free_config(max_message_size=10_000)


def test_oversized_message_gets_552_and_the_session_goes_on(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    big = b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 200
    code, _ = reply_of(smtp_address, big)
    assert code == 552
    code, _ = reply_of(smtp_address, b"Subject: small\r\n\r\nok\r\n")
    assert code == 250
    assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["small"]
    assert "mailtrap_messages_rejected_total 1" in api.get("/metrics").text


def test_declared_size_over_the_limit_is_refused_at_mail(smtp_address: tuple[str, int]) -> None:
    lines = raw_session(
        smtp_address, b"EHLO x\r\nMAIL FROM:<a@example.com> SIZE=999999\r\n", read_until=b"size\r\n"
    )
    assert any(line.startswith(b"552 5.3.4") for line in lines), lines


def test_recipients_over_the_cap_get_452() -> None:
    with serving(free_config(max_recipients=3)) as server:
        assert server.addresses is not None
        address = server.addresses.smtp
        with smtplib.SMTP(address.host, address.port, timeout=30) as client:
            client.ehlo("x")
            client.mail("app@example.com")
            codes = [client.rcpt(f"r{i}@example.com") for i in range(5)]
            assert [code for code, _ in codes] == [250, 250, 250, 452, 452]
            assert codes[3][1] == b"4.5.3 Too many recipients"
            assert client.data(b"Subject: capped\r\n\r\nx\r\n")[0] == 250
        with httpx.Client(base_url=server.addresses.url) as api:
            summary = api.get("/api/messages").json()["messages"][0]
    assert [r["code"] for r in summary["envelope"]["recipients"]] == [250, 250, 250, 452, 452]


def test_over_long_command_lines_get_500_and_the_session_goes_on(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    # RFC 5321 §4.5.3.1.4: a command line is at most 512 octets; past the reader's limit too.
    for length in (600, 300_000):
        lines = raw_session(
            smtp_address, b"EHLO x\r\nNOOP " + b"a" * length + b"\r\nNOOP\r\n", read_until=b"2.0.0 OK\r\n"
        )
        assert b"500 5.5.2 Command line too long" in lines, lines
    transcript = session_of(api)["transcript"]
    longest = max(len(line["line"]) for line in transcript)
    assert longest < MAX_LINE_CHARS + 50  # the transcript keeps the start of a huge line


def test_transcript_is_capped(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    count = MAX_LINES // 2 + 100
    lines = raw_session(smtp_address, b"NOOP\r\n" * count + b"QUIT\r\n", read_until=b"Bye\r\n")
    assert lines.count(b"250 2.0.0 OK") == count  # every command is still answered
    session = session_of(api)
    assert session["transcript_truncated"] is True
    assert len(session["transcript"]) == MAX_LINES


def test_idle_connection_is_closed_with_421() -> None:
    with serving(free_config(idle_timeout=0.3)) as server:
        assert server.addresses is not None
        address = server.addresses.smtp
        with socket.create_connection((address.host, address.port), timeout=30) as sock:
            received = b""
            while chunk := sock.recv(4096):  # until the server closes the connection
                received += chunk
        assert received.split(b"\r\n")[1].startswith(b"421 4.4.2 "), received
        with httpx.Client(base_url=server.addresses.url) as api:
            assert session_of(api)["error"] == "idle timeout"
