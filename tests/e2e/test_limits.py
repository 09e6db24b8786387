"""Limits: the size limit is enforced with 552, while reading and at MAIL's SIZE parameter."""

from __future__ import annotations

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.helpers import reply_of
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
