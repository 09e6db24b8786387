"""The plugin's decoders read back exactly what the server's encoders wrote (``mailtrap_lite.wire``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from mailtrap_lite import wire
from mailtrap_lite.message import build_message, parse_full
from mailtrap_lite.model import (
    Attachment,
    AuthInfo,
    Envelope,
    Message,
    MessageSummary,
    Recipient,
    Reply,
    Session,
    TLSInfo,
    TranscriptLine,
)

RAW = (
    b"From: App <app@example.com>\r\nTo: Ann <ann@example.com>\r\nSubject: Invoice\r\n"
    b"Date: Sun, 29 Nov 2026 01:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n'
    b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=i.pdf\r\n\r\n"
    b"%PDF\r\n--b--\r\n"
)
ENVELOPE = Envelope(
    "app@example.com",
    ("BODY=8BITMIME",),
    (Recipient("ann@example.com", 250, "2.1.5 OK"), Recipient("bcc@example.com", 550, "5.1.1 no")),
    Reply(250, "2.0.0 queued"),
)


def test_a_summary_survives_the_wire() -> None:
    summary = build_message("m1", RAW, ENVELOPE, "s1", eight_bit=False).summary
    decoded = wire.decode(MessageSummary, wire.encode(summary))
    # Times travel in milliseconds, as RFC 3339 text.
    assert decoded.received_at == summary.received_at.replace(
        microsecond=summary.received_at.microsecond // 1000 * 1000
    )
    assert decoded == dataclasses.replace(summary, received_at=decoded.received_at)
    assert decoded.from_ is not None and decoded.from_.address == "app@example.com"


def test_a_full_message_keeps_its_attachments_and_headers() -> None:
    stored = build_message("m1", RAW, ENVELOPE, "s1", eight_bit=False)
    message = parse_full(stored.summary, stored.raw)
    data = wire.message_json(message)
    assert data["attachments"] == wire.encode(message.attachments)  # the list replaces the count
    attachments: tuple[Attachment, ...] = wire.decode_field(Message, "attachments", data)
    assert attachments == message.attachments and attachments[0].filename == "i.pdf"
    assert wire.decode_field(Message, "headers", data) == message.headers


def test_a_session_survives_the_wire_with_and_without_its_transcript() -> None:
    session = Session(
        id="s1",
        peer="127.0.0.1:5000",
        started_at=datetime(2026, 11, 29, 1, 0, tzinfo=UTC),
        ended_at=None,
        helo="client",
        tls=TLSInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
        auth=AuthInfo("PLAIN", "ann"),
        transcript=(TranscriptLine(0, "S", "220 hi"), TranscriptLine(3, "C", "RCPT TO:<x>", "f1")),
        message_ids=("m1",),
    )
    decoded = wire.decode(Session, wire.session_json(session))
    assert decoded == session
    short = wire.session_json(session, transcript=False)
    assert "transcript" not in short
    assert wire.decode(Session, short).transcript == ()
