"""Mailpit's and MailHog's searches read as our queries, checked by the messages they then match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailtrap_lite.compat_search import mailhog_query, mailpit_query, mailpit_text, time_zone
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.model import Address, Envelope, MessageSummary, Recipient
from mailtrap_lite.search import QueryError, matches

RECEIVED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def summary(**changes: object) -> MessageSummary:
    fields: dict[str, object] = {
        "id": "m1",
        "session_id": "s1",
        "mailbox": "default",
        "received_at": RECEIVED,
        "size": 2048,
        "envelope": Envelope(
            "bounce@app.example",
            recipients=(Recipient("ann@example.com", 250, "OK"), Recipient("boss@example.com", 250, "OK")),
        ),
        "subject": "Your order 42",
        "from_": Address("Shop", "shop@app.example"),
        "to": (Address("Ann Lee", "ann@example.com"),),
        "cc": (),
        "bcc": (Address("", "boss@example.com"),),
        "reply_to": (),
        "date": None,
        "message_id": "<1@app.example>",
        "snippet": "",
        "attachments": 1,
        "tags": ("orders",),
    }
    fields.update(changes)
    return MessageSummary(**fields)  # type: ignore[arg-type]


BODY = "Thanks for your order, it ships at 12:30 today."


def mailpit_matches(text: str, tz: str | None = None, **changes: object) -> bool:
    query = mailpit_query(text, time_zone(tz))
    return query is None or matches(query, summary(**changes), BODY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from:shop@app.example", True),
        ("from:someone.else", False),
        ('to:"Ann Lee"', True),
        ("to:boss", False),  # To header only, as in Mailpit
        ("bcc:boss@example.com", True),
        ("cc:ann", False),
        ("subject:order", True),
        ('subject:"order 42"', True),
        ('"your order"', True),
        ("-subject:order", False),
        ("!subject:order", False),
        ("is:unread", True),
        ("is:read", False),
        ("has:attachment", True),
        ("has:attachments", True),
        ("-has:attachment", False),
        ("tag:orders", True),
        ("tag:other", False),
        ("larger:1kb", True),
        ("smaller:1k", False),
        ("after:2026-11-26", True),
        ("before:2026-11-26", False),
        ("12:30", True),  # a word with a colon that names no field is text, as in Mailpit
        ("ships today", True),
        ("ships tomorrow", False),
        ("SHIPS", True),
        ("- ! ---", True),  # terms without a letter or digit are ignored
        ("", True),
        ("subject:", True),  # a field without a value is ignored
    ],
)
def test_mailpit_search(text: str, expected: bool) -> None:
    assert mailpit_matches(text) is expected


def test_a_quoted_phrase_is_one_term_and_quotes_inside_are_escaped() -> None:
    assert mailpit_text('subject:"your order" from:x"y') == 'subject:"your order" from:"xy"'
    assert mailpit_text('say:"a \\ b"') == '"say:a \\\\ b"'


def test_tz_moves_a_date_to_midnight_there() -> None:
    # 12:00 UTC on the 26th is 13:00 in Paris and 04:00 in Los Angeles.
    assert mailpit_matches("after:2026-11-26T12:30", tz="Europe/Paris")
    assert not mailpit_matches("after:2026-11-26T12:30")
    assert not mailpit_matches("after:2026-11-26T05:00", tz="America/Los_Angeles")
    # Midnight of the 27th at UTC+14 is 10:00 UTC on the 26th, before the message came.
    assert mailpit_matches("before:2026-11-27")
    assert not mailpit_matches("before:2026-11-27", tz="Pacific/Kiritimati")


@pytest.mark.parametrize("text", ["reply-to:ann", "addressed:ann", "message-id:1@app", "is:starred"])
def test_mailpit_terms_without_a_counterpart_are_refused(text: str) -> None:
    with pytest.raises(QueryError) as refused:
        mailpit_query(text)
    assert text.split(":")[0] in str(refused.value)


def test_a_bad_date_names_the_mailpit_query() -> None:
    with pytest.raises(QueryError, match="Mailpit query 'after:soon'"):
        mailpit_query("after:soon")


def test_an_unknown_time_zone_is_bad_input() -> None:
    with pytest.raises(BadRequest, match="Mars/Olympus"):
        time_zone("Mars/Olympus")
    assert time_zone("") is None


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("from", "bounce@app", True),  # the envelope sender, as MailHog stores it
        ("from", "shop@app", False),
        ("to", "boss@example.com", True),
        ("to", "carl@", False),
        ("containing", "ships at 12:30", True),
        ("containing", 'order "42"', False),
        ("containing", "Your order", True),
    ],
)
def test_mailhog_search(kind: str, text: str, expected: bool) -> None:
    query = mailhog_query(kind, text)
    assert query is not None
    assert matches(query, summary(), BODY) is expected


def test_mailhog_blank_query_matches_all_and_unknown_kind_is_refused() -> None:
    assert mailhog_query("containing", "  ") is None
    with pytest.raises(BadRequest, match="kind must be one of from, to, containing"):
        mailhog_query("subject", "x")
