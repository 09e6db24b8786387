"""Mailpit's and MailHog's JSON shapes built from real messages, without sockets."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailtrap_lite.compat_mailhog import MAX_MIME_DEPTH, content_of, mailhog_message, path_of
from mailtrap_lite.compat_mailpit import header_map, mailpit_list, mailpit_message
from mailtrap_lite.message import build_message, parse_full
from mailtrap_lite.model import Envelope, Recipient, StoredMessage, to_json

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
ENVELOPE = Envelope("bounce@app.example", recipients=(Recipient("ann@example.com", 250, "OK"),))


def invoice() -> bytes:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = "=?utf-8?q?Sh=C3=B6p?= <shop@app.example>"
    message["To"] = "Ann <ann@example.com>"
    message["Subject"] = "Invoice"
    message["Message-ID"] = "<inv-1@app.example>"
    message["X-Trace"] = "one"
    message["x-trace"] = "two"
    message["List-Unsubscribe"] = "<mailto:off@app.example>, <https://app.example/off>"
    message.set_content("Pay by Friday.\n")
    message.add_alternative("<p>Pay by <b>Friday</b>.</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="invoice.pdf")
    return message.as_bytes()


def stored(raw: bytes) -> StoredMessage:
    return build_message("m1", raw, ENVELOPE, "s1", eight_bit=False)


def test_mailpit_message_has_mailpits_fields_from_ours() -> None:
    kept = stored(invoice())
    data = to_json(mailpit_message(parse_full(kept.summary, kept.raw)))
    assert data["ID"] == "m1"
    assert data["MessageID"] == "inv-1@app.example"
    assert data["From"] == {"Name": "Shöp", "Address": "shop@app.example"}
    assert data["To"] == [{"Name": "Ann", "Address": "ann@example.com"}]
    assert data["ReturnPath"] == "bounce@app.example"
    assert data["Text"] == "Pay by Friday.\n"
    assert "<b>Friday</b>" in data["HTML"]
    assert data["Date"] == to_json(kept.summary.received_at)  # no Date header: when it came
    [attachment] = data["Attachments"]
    assert attachment["FileName"] == "invoice.pdf" and attachment["ContentType"] == "application/pdf"
    assert attachment["Size"] == len(b"%PDF-1.4")
    assert data["ListUnsubscribe"]["Links"] == ["mailto:off@app.example", "https://app.example/off"]
    assert data["ListUnsubscribe"]["Errors"] == ""


def test_mailpit_list_counts_the_store_and_the_matches_apart() -> None:
    kept = stored(invoice())
    data = to_json(
        mailpit_list(
            total=7, unread=3, matched=1, matched_unread=1, start=2, tags=["a"], messages=[kept.summary]
        )
    )
    assert (data["total"], data["unread"], data["messages_count"], data["messages_unread"]) == (7, 3, 1, 1)
    assert (data["count"], data["start"], data["tags"]) == (1, 2, ["a"])
    assert data["messages"][0]["Attachments"] == 1 and data["messages"][0]["Read"] is False


def test_header_map_sorts_names_and_joins_spellings() -> None:
    headers = [("X-Trace", "one"), ("Subject", "Hi"), ("x-trace", "two")]
    assert header_map(headers) == {"Subject": ["Hi"], "X-Trace": ["one", "two"]}


def test_mailhog_content_is_raw_headers_body_and_mime_parts() -> None:
    raw = invoice()
    kept = stored(raw)
    data = to_json(mailhog_message(kept.summary, raw, "client.example"))
    headers = data["Content"]["Headers"]
    assert headers["From"] == ["=?utf-8?q?Sh=C3=B6p?= <shop@app.example>"]  # as received, not decoded
    assert headers["X-Trace"] == ["one"] and headers["x-trace"] == ["two"]
    assert data["From"] == {"Relays": None, "Mailbox": "bounce", "Domain": "app.example", "Params": ""}
    assert data["To"][0]["Mailbox"] == "ann"
    assert data["Raw"] == {
        "From": "bounce@app.example",
        "To": ["ann@example.com"],
        "Data": raw.decode(),
        "Helo": "client.example",
    }
    assert data["Content"]["Size"] == len(raw)
    alternative, attachment = data["MIME"]["Parts"]
    text, html = alternative["MIME"]["Parts"]
    assert text["Body"].strip() == "Pay by Friday."
    assert "<b>Friday</b>" in html["Body"]
    assert attachment["Headers"]["Content-Disposition"] == ['attachment; filename="invoice.pdf"']


def test_mailhog_reads_bare_lf_folded_headers_and_no_body() -> None:
    content = content_of("Subject: a\n  long one\nX-Empty:\n\nbody\n")
    assert content.Headers == {"Subject": ("a  long one",), "X-Empty": ("",)}
    assert content.Body == "body\n" and content.MIME is None
    assert content_of("no header section at all").Body == "no header section at all"


def test_mailhog_stops_splitting_at_the_depth_limit() -> None:
    data = "Content-Type: text/plain\r\n\r\ninnermost"
    for level in range(MAX_MIME_DEPTH + 5):
        data = f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n{data}\r\n--b{level}--"
    depth, content = 0, content_of(data)
    while content.MIME is not None and content.MIME.Parts:
        depth, content = depth + 1, content.MIME.Parts[0]
    assert depth == MAX_MIME_DEPTH


def test_path_of_splits_relays_mailbox_and_domain() -> None:
    assert path_of("@relay1,@relay2:ann@example.com").Relays == ("@relay1", "@relay2")
    assert path_of("").Mailbox == "" and path_of("postmaster").Domain == ""


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.eml")))
def test_every_corpus_message_has_both_shapes(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    kept = stored(raw)
    assert to_json(mailpit_message(parse_full(kept.summary, raw)))["ID"] == "m1"
    hog = to_json(mailhog_message(kept.summary, raw, ""))
    assert hog["Content"]["Size"] == len(raw.decode("utf-8", "replace").encode())
