"""The chunked DATA reader over a real socket: dot-unstuffing across chunk edges, sizes, the terminator."""

from __future__ import annotations

import asyncio
import smtplib

import httpx
import pytest

from mailtrap_lite.smtp.protocol import READ_CHUNK_LIMIT

BIG = READ_CHUNK_LIMIT * 3 + 17  # read in several pieces


def _line_pattern(length: int) -> bytes:
    # Lines that start with "." are everywhere, so some fall on every piece boundary.
    lines = [b"." * (i % 3) + b"x" * (i % 97) for i in range(length)]
    return b"\r\n".join(lines)


@pytest.mark.parametrize(
    "body",
    [
        b".first line starts with a dot\r\nsecond\r\n",
        b"..two dots\r\n.\tdot and tab\r\n..\r\nend\r\n",
        b"Subject: big\r\n\r\n" + _line_pattern(20_000)[:BIG] + b"\r\n",
        b"Subject: big\r\n\r\n" + b"y" * BIG + b"\r\n.last\r\n",
    ],
    ids=["first-line-dot", "dots", "many-pieces", "one-long-line"],
)
def test_data_is_stored_exactly_as_sent(
    smtp_address: tuple[str, int], api: httpx.Client, body: bytes
) -> None:
    # smtplib dot-stuffs (RFC 5321 §4.5.2); the stored bytes must be the unstuffed original.
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.sendmail("a@example.com", ["b@example.com"], body)
    stored = api.get("/api/messages/latest/raw").content
    assert stored == body
    assert api.get("/api/messages/latest").json()["size"] == len(body)


def test_a_terminator_look_alike_inside_a_line_does_not_end_data(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    body = b"Subject: t\r\n\r\nnot the end: .\r\n. \r\n.x\r\nstill in\r\n"
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.sendmail("a@example.com", ["b@example.com"], body)
    assert api.get("/api/messages/latest/raw").content == body


PATHS = [
    "<a@b>",
    "<ann@example.com>",
    "<A.B+tag@Sub.Example-1.COM>",
    "<a@b> SIZE=1000 BODY=8BITMIME",
    "<a@b>  SIZE=1",
    "<a@b> SIZE=1\t",
    "<a@b>SIZE=1",
    "<a@b> (comment) SIZE=1",
    "<a@b>(c) x",
    "<a..b@c>",
    "<.a@b>",
    "<a.@b>",
    "<a@b.>",
    "<a@.b>",
    "<a@-b>",
    "<a@[1.2.3.4]>",
    '<"quoted local"@b>',
    "<@relay:a@b>",
    "<>",
    " <a@b>",
    "a@b",
    "<a@b",
    "<a b@c>",
    "<josé@exämple.com>",
    "<{weird}!#$%&'*+/=?^_`|~-@b>",
    "<a@b> SMTPUTF8",
]


@pytest.mark.parametrize("path", PATHS)
def test_fast_address_parse_matches_aiosmtpd(path: str) -> None:
    from aiosmtpd.smtp import SMTP

    from mailtrap_lite.smtp.protocol import CatcherSMTP

    class Host:
        hostname = "h"
        max_message_size = 1000
        max_recipients = 10
        idle_timeout = 10.0

    # An explicit loop, closed after: without one aiosmtpd makes (and leaks) a loop of its own.
    loop = asyncio.new_event_loop()
    try:
        catcher = CatcherSMTP(Host(), loop=loop)  # type: ignore[arg-type]
        assert catcher._getaddr(path) == SMTP._getaddr(catcher, path)
    finally:
        loop.close()
