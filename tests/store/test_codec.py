"""The store codec gives back exactly what it was given."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailtrap_lite.message import build_message
from mailtrap_lite.model import (
    Address,
    AuthInfo,
    Envelope,
    MessageSummary,
    MessageWarning,
    Recipient,
    Reply,
    Session,
    TLSInfo,
    TranscriptLine,
    to_json,
)
from mailtrap_lite.store.codec import encode, session_from_json, summary_from_json
from tests.conftest import CORPUS

MOMENT = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)


def full_summary() -> MessageSummary:
    return MessageSummary(
        id="m1",
        session_id="s1",
        mailbox="default",
        received_at=MOMENT,
        size=1234,
        envelope=Envelope(
            mail_from="",
            mail_options=("BODY=8BITMIME", "SIZE=1234"),
            recipients=(Recipient("ann@example.com", 250, "Ok"), Recipient("x@y", 550, "no")),
            data=Reply(250, "2.0.0 Ok: queued as m1"),
        ),
        subject='Grüße, "quoted" \\ and \x00 NUL',
        from_=Address("Ann Lee", "ann@example.com"),
        to=(Address("", "bob@example.com"), Address("Cid Ö", "cid@école.fr")),
        cc=(),
        bcc=(Address("", "x@y"),),
        reply_to=(Address("R", "r@example.com"),),
        date=datetime(2026, 11, 26, 6, 0, tzinfo=timezone(timedelta(hours=-5))),
        message_id="<a@b>",
        snippet="hello",
        attachments=2,
        warnings=(MessageWarning("bare-lf", "bare LF at line 3"),),
        read=True,
        tags=("a", "b c"),
    )


def full_session() -> Session:
    return Session(
        id="s1",
        peer="[::1]:4000",
        started_at=MOMENT,
        ended_at=MOMENT,
        helo="client.example",
        tls=TLSInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
        auth=AuthInfo("PLAIN", "ann"),
        transcript=(TranscriptLine(0, "S", "220 hi"), TranscriptLine(5, "C", "RCPT TO:<x@y>", "f1")),
        message_ids=("m1", "m2"),
        error="timeout",
        transcript_truncated=True,
    )


def test_summary_round_trip_is_exact() -> None:
    summary = full_summary()
    back = summary_from_json(encode(summary))
    assert back == summary
    assert back.received_at.microsecond == 123456  # to_json would have rounded this to milliseconds
    assert isinstance(back.to, tuple) and isinstance(back.envelope.recipients[0], Recipient)


def test_empty_summary_fields_round_trip() -> None:
    summary = dataclasses.replace(full_summary(), from_=None, date=None, message_id=None, warnings=())
    summary = dataclasses.replace(summary, envelope=Envelope(mail_from="a@b"))
    assert summary_from_json(encode(summary)) == summary


def test_session_round_trip_is_exact() -> None:
    session = full_session()
    assert session_from_json(encode(session)) == session
    bare = Session(id="s2", peer="127.0.0.1:1", started_at=MOMENT)
    assert session_from_json(encode(bare)) == bare


def test_fields_missing_from_older_json_take_their_defaults() -> None:
    data = json.loads(encode(full_session()))
    del data["transcript_truncated"], data["error"]
    back = session_from_json(json.dumps(data))
    assert back.transcript_truncated is False and back.error is None


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")
@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: Path(p).name)
def test_real_messages_round_trip(path: Path) -> None:
    session = Session(id="s1", peer="127.0.0.1:1", started_at=MOMENT)
    envelope = Envelope("a@example.com", recipients=(Recipient("b@example.com", 250, "Ok"),))
    summary = build_message("m1", path.read_bytes(), envelope, session.id, False).summary
    back = summary_from_json(encode(summary))
    assert back == summary
    assert to_json(back) == to_json(summary)


def test_every_model_class_pickles_exactly() -> None:
    """With --db, summaries, sessions and envelopes cross to the writer process and back by pickle."""
    import pickle

    from mailtrap_lite import model

    dataclasses_in_model = {
        value
        for value in vars(model).values()
        if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == model.__name__
    }
    assert set(model._MODELS) == dataclasses_in_model  # a new class must be added there
    envelope = Envelope("a@example.com", ("BODY=8BITMIME",), (Recipient("b@example.com", 250, "Ok"),))
    for value in (full_summary(), full_session(), envelope):
        back = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        assert back == value and type(back) is type(value)
    for path in sorted(CORPUS.glob("*.eml"))[:20]:
        stored = build_message("m1", path.read_bytes(), envelope, "s1", False)
        assert pickle.loads(pickle.dumps(stored)) == stored
