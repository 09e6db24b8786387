"""Mailpit's send request made into a message, read back by our own parser."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from mailtrap_lite.compat_send import outgoing
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.message import build_message, parse_full
from mailtrap_lite.model import Envelope, Message, Recipient

LOGO = b"\x89PNG\r\n\x1a\n fake"


def request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "From": {"Email": "app@example.com", "Name": "Äpp"},
        "To": [{"Email": "ann@example.com", "Name": "Ann"}],
        "Cc": [{"Email": "carl@example.com"}],
        "Bcc": ["boss@example.com"],
        "ReplyTo": [{"Email": "help@example.com"}],
        "Subject": "Welcome ✓",
        "Text": "Hello Ann",
        "HTML": '<p>Hello <img src="cid:logo"></p>',
        "Headers": {"X-IP": "1.2.3.4"},
        "Tags": ["signup"],
        "Attachments": [
            {"Content": base64.b64encode(LOGO).decode(), "Filename": "logo.png", "ContentID": "logo"},
            {"Content": base64.b64encode(b"%PDF").decode(), "Filename": "terms.pdf"},
        ],
    }
    body.update(changes)
    return body


def parsed(body: dict[str, Any]) -> Message:
    made = outgoing(body, "mailtrap-lite")
    envelope = Envelope(made.mail_from, recipients=tuple(Recipient(r, 250, "OK") for r in made.recipients))
    kept = build_message("m1", made.raw, envelope, "s1", eight_bit=False)
    return parse_full(kept.summary, kept.raw)


def test_every_field_reaches_the_message() -> None:
    made = outgoing(request(), "mailtrap-lite")
    assert made.mail_from == "app@example.com"
    assert made.recipients == ("ann@example.com", "carl@example.com", "boss@example.com")
    assert made.tags == ("signup",)
    message = parsed(request())
    summary = message.summary
    assert summary.subject == "Welcome ✓"
    assert (summary.from_.name, summary.from_.address) == ("Äpp", "app@example.com")  # type: ignore[union-attr]
    assert [a.address for a in summary.to] == ["ann@example.com"]
    assert [a.address for a in summary.cc] == ["carl@example.com"]
    assert [a.address for a in summary.bcc] == ["boss@example.com"]  # envelope only
    assert [a.address for a in summary.reply_to] == ["help@example.com"]
    assert summary.message_id and summary.message_id.endswith("@mailtrap-lite>")
    assert message.text is not None and message.text.strip() == "Hello Ann"
    assert message.html is not None and "cid:logo" in message.html
    assert ("X-IP", "1.2.3.4") in message.headers
    assert [a.filename for a in message.attachments] == ["terms.pdf"]
    assert [(a.filename, a.content_type) for a in message.inline] == [("logo.png", "image/png")]
    assert b"Bcc" not in outgoing(request(), "x").raw


def test_a_given_date_or_message_id_replaces_ours() -> None:
    headers = {"Message-ID": "<given@example.com>", "Date": "Thu, 26 Nov 2026 10:00:00 +0000"}
    summary = parsed(request(Headers=headers)).summary
    assert summary.message_id == "<given@example.com>"
    assert summary.date is not None and summary.date.day == 26


def test_html_only_and_text_only() -> None:
    html_only = parsed(request(Text="", Attachments=[]))
    assert html_only.html is not None and html_only.summary.attachments == 0
    text_only = parsed(request(HTML="", Attachments=[]))
    assert text_only.html is None and text_only.text is not None


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"From": None}, "From must be an object"),
        ({"From": {"Email": "not an address"}}, "From.Email is not an email address"),
        ({"From": {"Email": "a@b", "Name": "x\r\nBcc: victim@example.com"}}, "From.Name must be one line"),
        ({"To": [{"Email": "ann@example.com\r\nX: y"}]}, "To[0].Email is not an email address"),
        ({"To": "ann@example.com"}, "To must be a list"),
        ({"To": [], "Cc": [], "Bcc": []}, "no recipients"),
        ({"Bcc": [1]}, "Bcc must be a list of strings"),
        ({"Subject": 3}, "Subject must be a string"),
        ({"Headers": {"Subject": "x"}}, "'Subject' is not a header name this request may set"),
        ({"Headers": {"X a": "x"}}, "is not a header name"),
        ({"Headers": {"X-A": "x\nBcc: y"}}, "the value of X-A must be one line"),
        ({"Attachments": [{"Content": "***", "Filename": "a"}]}, "Attachments[0].Content is not base64"),
        ({"Attachments": [{"Content": "", "Filename": ""}]}, "Attachments[0].Filename"),
        ({"Attachments": [{"Content": "", "Filename": "a", "ContentType": "x"}]}, "is not a media type"),
        ({"Attachments": [{"Content": "", "Filename": "a", "ContentID": "a b"}]}, "ContentID"),
        ({"Tags": "a"}, "Tags must be a list of strings"),
        ({"Bogus": 1}, "unknown fields: Bogus"),
    ],
)
def test_bad_requests_name_the_field(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequest) as refused:
        outgoing(request(**changes), "mailtrap-lite")
    assert says in str(refused.value)


def test_from_is_required() -> None:
    body = request()
    del body["From"]
    with pytest.raises(BadRequest, match="From is required"):
        outgoing(body, "mailtrap-lite")
