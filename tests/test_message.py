"""Tests for mailtrap_lite.message: raw bytes → summary / full view, never raising."""

from __future__ import annotations

import base64
import email.header
import json
import random
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from pathlib import Path
from typing import Any

import pytest

from mailtrap_lite import mime_safe
from mailtrap_lite.message import parse_email, parse_full, part_content, scan_raw, summarize
from mailtrap_lite.mime_tree import MAX_DEPTH, MAX_PARTS
from mailtrap_lite.model import (
    Address,
    Envelope,
    Message,
    MessageWarning,
    Part,
    Recipient,
    StoredMessage,
    to_json,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.eml")) if CORPUS.is_dir() else []
MALFORMED = Path(__file__).resolve().parent / "data" / "malformed"

KNOWN_CODES = {
    "missing-date",
    "missing-message-id",
    "bcc-header",
    "duplicate-content-id",
    "parse-defect",
    "header-error",
    "charset-unknown",
    "bare-lf",
    "bare-cr",
    "long-line",
    "8bit-without-8bitmime",
}
RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ENVELOPE = Envelope(
    mail_from="ann@example.com",
    recipients=(Recipient("bob@example.com", 250, "2.1.5 OK"),),
)


def crlf(text: str) -> bytes:
    """A message written as an indented literal, with CRLF line endings as on the wire."""
    return textwrap.dedent(text).lstrip("\n").replace("\n", "\r\n").encode("utf-8")


def stored(raw: bytes, envelope: Envelope = ENVELOPE, **kwargs: object) -> StoredMessage:
    return summarize(
        raw,
        message_id="msg-1",
        session_id="sess-1",
        mailbox="default",
        received_at=RECEIVED,
        envelope=envelope,
        **kwargs,  # type: ignore[arg-type]
    )


def full(raw: bytes, envelope: Envelope = ENVELOPE) -> Message:
    return parse_full(stored(raw, envelope).summary, raw)


def codes(warnings: tuple[MessageWarning, ...] | list[MessageWarning]) -> set[str]:
    return {warning.code for warning in warnings}


def messages(warnings: tuple[MessageWarning, ...], code: str) -> list[str]:
    return [warning.message for warning in warnings if warning.code == code]


def walk(part: Part) -> Iterator[Part]:
    yield part
    for child in part.children:
        yield from walk(child)


def json_safe(value: object) -> str:
    """What the HTTP layer does: it fails on lone surrogates, which must never reach it."""
    text = json.dumps(to_json(value), ensure_ascii=False)
    text.encode("utf-8")
    return text


SIMPLE = crlf("""
    From: Ann Example <ann@example.com>
    To: Bob <bob@example.com>, carol@example.com
    Cc: Dave <DAVE@example.com>
    Reply-To: replies@example.com
    Subject: Your order   #1234
    Date: Tue, 01 Jan 2019 10:00:00 +0100
    Message-ID:   <order-1234@example.com>
    MIME-Version: 1.0
    Content-Type: text/plain; charset=utf-8

    Hello Bob,

    your order has shipped.
""")

CLASSIFY = crlf("""
    From: ann@example.com
    To: bob@example.com
    Subject: Classification
    Date: Tue, 01 Jan 2019 10:00:00 +0000
    Message-ID: <classify@example.com>
    MIME-Version: 1.0
    Content-Type: multipart/mixed; boundary="outer"

    --outer
    Content-Type: multipart/related; boundary="rel"

    --rel
    Content-Type: multipart/alternative; boundary="alt"

    --alt
    Content-Type: text/plain; charset=utf-8

    Plain body
    --alt
    Content-Type: text/html; charset=utf-8

    <p>HTML body <img src="cid:logo@x"></p>
    --alt--
    --rel
    Content-Type: image/png
    Content-ID: <logo@x>
    Content-Transfer-Encoding: base64

    iVBORw0KGgo=
    --rel--
    --outer
    Content-Type: application/pdf; name="report.pdf"
    Content-Disposition: attachment; filename="report.pdf"
    Content-Transfer-Encoding: base64

    JVBERi0xLjQK
    --outer
    Content-Type: image/gif
    Content-Disposition: inline
    Content-ID: <badge@x>

    GIF89a
    --outer
    Content-Type: image/jpeg
    Content-Disposition: inline; filename="photo.jpg"

    JPEGDATA
    --outer
    Content-Type: application/octet-stream

    no filename, no disposition
    --outer
    Content-Type: text/plain; charset=utf-8
    Content-Disposition: attachment

    notes without a filename
    --outer--
""")

FORWARD = crlf("""
    From: ann@example.com
    To: bob@example.com
    Subject: Fwd: Original subject
    Date: Tue, 01 Jan 2019 10:00:00 +0000
    Message-ID: <fwd@example.com>
    MIME-Version: 1.0
    Content-Type: multipart/mixed; boundary="f"

    --f
    Content-Type: text/plain

    See attached.
    --f
    Content-Type: message/rfc822
    Content-Disposition: attachment; filename="original.eml"

    From: carol@example.com
    To: ann@example.com
    Subject: Original subject
    MIME-Version: 1.0
    Content-Type: multipart/mixed; boundary="g"

    --g
    Content-Type: text/plain

    Original text
    --g
    Content-Type: application/zip
    Content-Disposition: attachment; filename="inner.zip"

    PK
    --g--
    --f--
""")


# --- summary fields -------------------------------------------------------------------------------------


def test_summary_of_a_plain_message() -> None:
    result = stored(SIMPLE)
    summary = result.summary

    assert (summary.id, summary.session_id, summary.mailbox) == ("msg-1", "sess-1", "default")
    assert summary.received_at == RECEIVED
    assert summary.envelope is ENVELOPE
    assert summary.size == len(SIMPLE)
    assert summary.subject == "Your order   #1234"
    assert summary.from_ == Address("Ann Example", "ann@example.com")
    assert summary.to == (Address("Bob", "bob@example.com"), Address("", "carol@example.com"))
    assert summary.cc == (Address("Dave", "DAVE@example.com"),)
    assert summary.reply_to == (Address("", "replies@example.com"),)
    assert summary.date == datetime(2019, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert summary.message_id == "<order-1234@example.com>"
    assert summary.snippet == "Hello Bob, your order has shipped."
    assert summary.attachments == 0
    assert summary.warnings == ()
    assert (summary.read, summary.tags) == (False, ())
    assert result.raw is SIMPLE
    assert result.body_text == "Hello Bob,\n\nyour order has shipped.\n"


def test_missing_date_and_message_id_are_informational() -> None:
    summary = stored(b"From: ann@example.com\r\nBcc: x@example.com\r\nSubject: bare\r\n\r\nbody\r\n").summary

    assert summary.date is None
    assert summary.message_id is None
    severities = {w.code: w.severity for w in summary.warnings}
    assert severities == {"missing-date": "info", "missing-message-id": "info", "bcc-header": "warning"}


def test_unparsable_date_is_a_header_error_and_none() -> None:
    raw = SIMPLE.replace(b"Tue, 01 Jan 2019 10:00:00 +0100", b"the day after tomorrow")
    summary = stored(raw).summary

    assert summary.date is None
    assert any(message.startswith("Date:") for message in messages(summary.warnings, "header-error"))
    assert "missing-date" not in codes(summary.warnings)


def test_date_with_unknown_zone_is_read_as_utc() -> None:
    raw = SIMPLE.replace(b"+0100", b"-0000")
    date = stored(raw).summary.date

    assert date == datetime(2019, 1, 1, 10, 0, tzinfo=UTC)
    assert date is not None and date.tzinfo is not None


def test_folded_message_id_is_kept_with_brackets_and_stripped() -> None:
    raw = SIMPLE.replace(
        b"Message-ID:   <order-1234@example.com>", b"Message-ID:\r\n  <folded@example.com>  "
    )
    assert stored(raw).summary.message_id == "<folded@example.com>"


def test_extra_warnings_come_first_and_are_kept() -> None:
    extra = (MessageWarning("bare-lf", "2 bare LFs"),)
    raw = b"Subject: x\r\n\r\nbody\r\n"
    warnings = stored(raw, extra_warnings=extra).summary.warnings

    assert warnings[0] == extra[0]
    assert codes(warnings) == {"bare-lf", "missing-date", "missing-message-id"}


# --- Bcc ------------------------------------------------------------------------------------------------


def test_bcc_is_the_accepted_recipients_no_header_names() -> None:
    envelope = Envelope(
        mail_from="ann@example.com",
        recipients=(
            Recipient("BOB@example.com", 250, "OK"),  # in To, other case
            Recipient("dave@example.com", 250, "OK"),  # in Cc, other case
            Recipient("hidden@example.com", 250, "OK"),
            Recipient("<angle@example.com>", 251, "OK, forwarding"),
            Recipient("HIDDEN@example.com", 250, "OK"),  # the same blind recipient again
            Recipient("bounced@example.com", 550, "no such user"),
            Recipient("later@example.com", 451, "try again"),
        ),
    )
    summary = stored(SIMPLE, envelope).summary

    assert summary.bcc == (Address("", "hidden@example.com"), Address("", "angle@example.com"))


def test_bcc_ignores_reply_to_and_from_but_not_cc() -> None:
    envelope = Envelope(
        mail_from="x@example.com",
        recipients=(Recipient("replies@example.com", 250, "OK"), Recipient("ann@example.com", 250, "OK")),
    )
    bcc = stored(SIMPLE, envelope).summary.bcc

    assert bcc == (Address("", "replies@example.com"), Address("", "ann@example.com"))


def test_bcc_header_in_the_data_is_warned() -> None:
    raw = SIMPLE.replace(b"Reply-To:", b"Bcc: spy@example.com\r\nReply-To:")
    summary = stored(raw).summary

    assert "bcc-header" in codes(summary.warnings)
    assert "bcc-header" not in codes(stored(SIMPLE).summary.warnings)


# --- header decoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"=?utf-8?q?Caf=C3=A9_cr=C3=A8me?=", "Café crème"),
        (b"=?ISO-8859-1?Q?Je=20pr=E9pare=20?= =?utf-8?b?w6l0w6k=?=", "Je prépare été"),
        (b"Re: =?utf-8?b?0L/QuNGB0YzQvNC+?= today", "Re: письмо today"),
        (b"=?GB2312?B?tPq/qrj3tdjU9ta1y7C3osax?=", "代开各地增值税发票"),
        ("Raw UTF-8 \u2013 déjà vu".encode(), "Raw UTF-8 \u2013 déjà vu"),
        ("Raw Latin-1 café".encode("latin-1"), "Raw Latin-1 café"),
        (b"folded\r\n  subject", "folded  subject"),
    ],
)
def test_subject_decoding(header: bytes, expected: str) -> None:
    raw = b"Subject: " + header + b"\r\nDate: Tue, 01 Jan 2019 10:00:00 +0000\r\n\r\nbody\r\n"
    summary = stored(raw).summary

    assert summary.subject == expected
    assert "charset-unknown" not in codes(summary.warnings)


def test_unknown_charset_in_subject_is_decoded_and_warned() -> None:
    raw = b"Subject: =?x-unknown?q?caf=E9?= / =?utf-7-broken?b?w6k=?=\r\n\r\nbody\r\n"
    summary = stored(raw).summary

    assert summary.subject == "café / é"
    unknown = messages(summary.warnings, "charset-unknown")
    assert any("x-unknown" in message and message.startswith("Subject") for message in unknown)
    assert any("utf-7-broken" in message for message in unknown)


def test_long_encoded_subject_skips_the_super_linear_decoders(monkeypatch: pytest.MonkeyPatch) -> None:
    # policy.default's header parser and compat32's decode_header both take over a minute on this value.
    words = 20_000
    raw = b"Subject: " + b"=?utf-8?q?caf=C3=A9?= " * words + b"\r\n\r\nbody\r\n"
    parsed_lengths: list[int] = []
    decoded_words = 0
    registry_call = HeaderRegistry.__call__
    decode_word = mime_safe._decode_word

    def parse_header(self: HeaderRegistry, name: str, value: str) -> Any:
        parsed_lengths.append(len(value))
        return registry_call(self, name, value)

    def count_word(kind: str, text: str) -> bytes | None:
        nonlocal decoded_words
        decoded_words += 1
        return decode_word(kind, text)

    monkeypatch.setattr(HeaderRegistry, "__call__", parse_header)
    monkeypatch.setattr(email.header, "decode_header", None)  # any call would raise
    monkeypatch.setattr(mime_safe, "_decode_word", count_word)

    subject = stored(raw).summary.subject

    assert subject == "café" * words
    assert all(length <= mime_safe.MAX_PARSED_HEADER for length in parsed_lengths), max(parsed_lengths)
    assert decoded_words == words  # one pass: each encoded word decoded exactly once


def test_undecodable_encoded_word_is_kept_as_written() -> None:
    raw = b"Subject: =?x-unknown?b?a?= =?x-unknown?q?ok=21?=\r\n\r\nbody\r\n"
    assert stored(raw).summary.subject == "=?x-unknown?b?a?= ok!"


def test_encoded_display_names() -> None:
    raw = crlf("""
        From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.com>
        To: "=?utf-8?b?w4lsb2RpZQ==?=" <elodie@example.com>, "Smith, John" <john@example.com>
        Subject: names

        body
    """)
    summary = stored(raw).summary

    assert summary.from_ == Address("Jörg Müller", "jorg@example.com")
    assert summary.to == (Address("Élodie", "elodie@example.com"), Address("Smith, John", "john@example.com"))


def test_several_to_headers_are_combined_and_an_empty_group_is_fine() -> None:
    raw = b"To: a@example.com\r\nTo: b@example.com\r\nCc: undisclosed-recipients:;\r\n\r\nbody\r\n"
    summary = stored(raw).summary

    assert [address.address for address in summary.to] == ["a@example.com", "b@example.com"]
    assert summary.cc == ()
    assert "header-error" not in codes(summary.warnings)


def test_unparsable_addresses_are_header_errors_not_exceptions() -> None:
    # policy.default raises IndexError on the first of these as soon as the header is read.
    raw = b'From: <\r\nTo: =?utf-8?q?x?= <\r\nCc: "Bob, the" <bob@example.com>, <<<>>>\r\n\r\nbody\r\n'
    result = full(raw)

    assert result.summary.from_ is None
    assert result.summary.cc == (Address("Bob, the", "bob@example.com"),)
    errors = messages(result.warnings, "header-error")
    assert {message.split(":")[0] for message in errors} == {"From", "To", "Cc"}
    assert len(errors) == 3, "one header-error per header, even when the full parse fails on it again"
    assert dict(result.headers)["To"]  # still shown, decoded as far as possible


def test_header_values_in_the_full_view_are_decoded_and_ordered() -> None:
    raw = crlf("""
        Received: from a
        Received: from b
        Subject: =?utf-8?q?caf=C3=A9?=
        From: =?utf-8?q?J=C3=B6rg?= <jorg@example.com>
        X-Custom: folded
          value

        body
    """)
    headers = full(raw).headers

    assert [name for name, _ in headers] == ["Received", "Received", "Subject", "From", "X-Custom"]
    assert headers[2] == ("Subject", "café")
    assert headers[3] == ("From", "Jörg <jorg@example.com>")
    assert headers[4] == ("X-Custom", "folded  value")


def test_8bit_header_with_control_bytes_is_json_safe() -> None:
    raw = b"Subject: caf\xe9 \xff\xfe\x00 bytes\r\nX-Bin: \x80\x81\r\n\r\nbody\r\n"
    result = full(raw)

    assert result.summary.subject.startswith("café")
    assert "\x00" not in result.summary.subject
    assert all("\x00" not in value for _, value in result.headers)
    json_safe(result)


# --- bodies and snippets --------------------------------------------------------------------------------


def test_html_only_snippet_drops_markup_scripts_and_styles() -> None:
    html = (
        "<html><head><title>Newsletter</title><style>p { color: red }</style>"
        "<script>alert('x') </script></head><body><!-- hidden -->"
        "<p>Caf&eacute; &amp; cr&egrave;me&nbsp;&lt;3</p>\n\n<p>Second   line</p></body></html>"
    )
    raw = b"Subject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()
    result = stored(raw)

    assert result.summary.snippet == "Café & crème <3 Second line"
    assert result.body_text == "Café & crème <3 Second line"


def test_snippet_is_capped_and_collapsed() -> None:
    raw = b"Subject: long\r\n\r\n" + b"word \r\n\t " * 200
    snippet = stored(raw).summary.snippet

    assert len(snippet) <= 160
    assert snippet.startswith("word word word")
    assert "  " not in snippet and "\n" not in snippet


def test_blank_text_part_falls_back_to_html() -> None:
    raw = crlf("""
        Subject: alt
        Content-Type: multipart/alternative; boundary=b

        --b
        Content-Type: text/plain

        \x20\x20
        --b
        Content-Type: text/html

        <b>Rich</b> text
        --b--
    """)
    assert stored(raw).summary.snippet == "Rich text"


def test_body_text_is_capped() -> None:
    raw = b"Subject: big\r\n\r\n" + b"0123456789" * 20_000
    assert len(stored(raw).body_text) == 100_000


def test_text_and_html_in_the_full_view() -> None:
    result = full(CLASSIFY)

    assert result.text == "Plain body"
    assert result.html == '<p>HTML body <img src="cid:logo@x"></p>'
    assert result.summary.snippet == "Plain body"


def test_crlf_becomes_lf_in_decoded_text() -> None:
    result = full(SIMPLE)
    assert result.text == "Hello Bob,\n\nyour order has shipped.\n"


def test_unknown_body_charset_falls_back_and_warns() -> None:
    raw = crlf("""
        Subject: cs
        Content-Type: text/plain; charset="utf-7-broken"
        Content-Transfer-Encoding: quoted-printable

        caf=C3=A9
    """)
    raw_latin = raw.replace(b"utf-7-broken", b"x-unknown").replace(b"caf=C3=A9", b"caf=E9")

    assert full(raw).text == "café\n"
    assert full(raw_latin).text == "café\n"
    assert any(message.startswith("part 0:") for message in messages(full(raw).warnings, "charset-unknown"))


def test_mislabelled_utf8_body_is_still_readable() -> None:
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=GB2312\r\n\r\n" + "增值税 ok".encode()
    assert full(raw).text == "增值税 ok"


def test_non_text_codec_names_are_unknown_charsets() -> None:
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=base64\r\n\r\naGVsbG8=\r\n"
    result = full(raw)

    assert result.text == "aGVsbG8=\n"
    assert "charset-unknown" in codes(result.warnings)


# --- MIME structure -------------------------------------------------------------------------------------


def test_part_numbering() -> None:
    result = full(CLASSIFY)
    ids = [(part.part_id, part.content_type) for part in walk(result.parts)]

    assert ids == [
        ("0", "multipart/mixed"),
        ("1", "multipart/related"),
        ("1.1", "multipart/alternative"),
        ("1.1.1", "text/plain"),
        ("1.1.2", "text/html"),
        ("1.2", "image/png"),
        ("2", "application/pdf"),
        ("3", "image/gif"),
        ("4", "image/jpeg"),
        ("5", "application/octet-stream"),
        ("6", "text/plain"),
    ]


def test_part_metadata_and_sizes() -> None:
    parts = {part.part_id: part for part in walk(full(CLASSIFY).parts)}

    assert parts["0"].size == 0 and parts["1.1"].size == 0  # multiparts
    assert parts["1.1.1"] == Part("1.1.1", "text/plain", "utf-8", None, None, None, len(b"Plain body"))
    assert parts["1.2"].content_id == "logo@x"
    assert parts["1.2"].size == len(b"\x89PNG\r\n\x1a\n")
    assert (parts["2"].filename, parts["2"].disposition, parts["2"].size) == ("report.pdf", "attachment", 9)


def test_inline_versus_attachment() -> None:
    result = full(CLASSIFY)

    assert [(a.part_id, a.content_id) for a in result.inline] == [("1.2", "logo@x"), ("3", "badge@x")]
    assert [(a.part_id, a.filename) for a in result.attachments] == [
        ("2", "report.pdf"),
        ("4", "photo.jpg"),  # inline disposition but no Content-ID: nothing can show it
        ("6", None),  # attachment disposition, no filename
    ]
    assert result.attachments[0].content_type == "application/pdf"
    assert result.attachments[0].size == 9
    assert result.summary.attachments == 3


def test_content_id_outside_related_without_inline_disposition_is_an_attachment() -> None:
    raw = crlf("""
        Subject: cid
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain

        hi
        --b
        Content-Type: image/png; name="pic.png"
        Content-ID: <pic@x>

        PNG
        --b--
    """)
    result = full(raw)

    assert [a.part_id for a in result.attachments] == ["2"]
    assert result.attachments[0].content_id == "pic@x"
    assert result.inline == ()


def test_text_part_with_a_filename_is_an_attachment_not_the_body() -> None:
    raw = crlf("""
        Subject: t
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain; charset=utf-8
        Content-Disposition: inline; filename="notes.txt"

        attached notes
        --b
        Content-Type: text/plain; charset=utf-8

        the body
        --b--
    """)
    result = full(raw)

    assert result.text == "the body"
    assert [a.filename for a in result.attachments] == ["notes.txt"]


def test_attached_message_is_one_attachment_with_its_own_tree() -> None:
    result = full(FORWARD)
    ids = [(part.part_id, part.content_type) for part in walk(result.parts)]

    assert ids == [
        ("0", "multipart/mixed"),
        ("1", "text/plain"),
        ("2", "message/rfc822"),
        ("2.1", "multipart/mixed"),
        ("2.1.1", "text/plain"),
        ("2.1.2", "application/zip"),
    ]
    assert result.text == "See attached."
    assert [(a.part_id, a.filename) for a in result.attachments] == [("2", "original.eml")]
    assert result.summary.attachments == 1
    content = part_content(FORWARD, "2")
    assert content is not None
    assert content[0] == "message/rfc822"
    assert content[2].startswith(b"From: carol@example.com")
    assert b"Subject: Original subject" in content[2]
    assert result.attachments[0].size == len(content[2])


def test_duplicate_content_id() -> None:
    raw = CLASSIFY.replace(b"Content-ID: <badge@x>", b"Content-ID: < logo@x >")
    warnings = full(raw).warnings

    assert messages(warnings, "duplicate-content-id") == ["Content-ID <logo@x> is used by parts 1.2, 3"]
    assert "duplicate-content-id" not in codes(full(CLASSIFY).warnings)


# --- filenames ------------------------------------------------------------------------------------------


def attachment_named(disposition: str) -> bytes:
    return crlf(f"""
        Subject: file
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain

        see file
        --b
        Content-Type: application/octet-stream
        Content-Disposition: {disposition}

        DATA
        --b--
    """)


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("attachment; filename*=utf-8''%E2%82%AC%20rates.pdf", "€ rates.pdf"),
        ("attachment; filename*0*=utf-8''%C3%A9t%C3%A9; filename*1=\".txt\"", "été.txt"),
        ("attachment; filename*=iso-8859-1'fr'r%E9sum%E9.doc", "résumé.doc"),
        (
            f'attachment; filename="=?utf-8?b?{base64.b64encode("élève.pdf".encode()).decode()}?="',
            "élève.pdf",
        ),
        ('attachment; filename="=?iso-8859-1?q?Pr=E9sentation.ppt?="', "Présentation.ppt"),
        ('attachment; filename="  spaced.txt  "', "spaced.txt"),
    ],
)
def test_non_ascii_filenames(disposition: str, expected: str) -> None:
    result = full(attachment_named(disposition))

    assert [a.filename for a in result.attachments] == [expected]
    assert "charset-unknown" not in codes(result.warnings)


def test_filename_in_unknown_rfc2231_charset() -> None:
    result = full(attachment_named("attachment; filename*=x-unknown''men%FC.txt"))

    assert [a.filename for a in result.attachments] == ["menü.txt"]
    assert any("filename" in message for message in messages(result.warnings, "charset-unknown"))


def test_filename_from_content_type_name() -> None:
    raw = attachment_named("attachment").replace(
        b"application/octet-stream", b'application/octet-stream; name="legacy.bin"'
    )
    assert [a.filename for a in full(raw).attachments] == ["legacy.bin"]


# --- part_content ---------------------------------------------------------------------------------------


def test_part_content_decodes_payloads() -> None:
    assert part_content(CLASSIFY, "1.2") == ("image/png", None, b"\x89PNG\r\n\x1a\n")
    assert part_content(CLASSIFY, "2") == ("application/pdf", "report.pdf", b"%PDF-1.4\n")
    assert part_content(CLASSIFY, "1.1.1") == ("text/plain", None, b"Plain body")


def test_part_content_of_a_multipart_is_the_whole_entity() -> None:
    content = part_content(CLASSIFY, "1.1")
    assert content is not None
    assert content[0] == "multipart/alternative"
    assert b"--alt" in content[2] and b"Plain body" in content[2]


@pytest.mark.parametrize(
    "part_id", ["", "7", "1.3", "1.1.1.1", "0.1", "01", "1.0", "-1", "a", "1..2", "1.", "9" * 50]
)
def test_part_content_of_a_missing_part_is_none(part_id: str) -> None:
    assert part_content(CLASSIFY, part_id) is None


def test_part_content_matches_every_part_of_the_tree() -> None:
    for raw in (CLASSIFY, FORWARD, SIMPLE):
        for part in walk(full(raw).parts):
            content = part_content(raw, part.part_id)
            assert content is not None, part.part_id
            assert content[0] == part.content_type
            if not part.content_type.startswith("multipart/"):
                assert len(content[2]) == part.size, part.part_id


# --- malformed input ------------------------------------------------------------------------------------


def test_empty_input() -> None:
    result = stored(b"")
    view = parse_full(result.summary, b"")

    assert result.summary.subject == ""
    assert result.summary.from_ is None and result.summary.to == ()
    assert result.summary.size == 0 and result.body_text == "" and result.summary.snippet == ""
    assert codes(result.summary.warnings) == {"missing-date", "missing-message-id"}
    assert view.parts == Part("0", "text/plain", None, None, None, None, 0)
    assert view.headers == () and view.attachments == ()
    assert part_content(b"", "0") == ("text/plain", None, b"")


def test_headers_only_input() -> None:
    raw = b"Subject: only headers\r\nFrom: ann@example.com"
    result = full(raw)

    assert result.summary.subject == "only headers"
    assert result.summary.from_ == Address("", "ann@example.com")
    assert result.text == ""
    assert result.summary.snippet == ""


def test_binary_junk() -> None:
    junk = random.Random(7).randbytes(20_000) + bytes(range(256))
    result = full(junk)

    assert result.summary.size == len(junk)
    assert result.parts.part_id == "0"
    assert "\x00" not in result.summary.snippet
    assert len(result.summary.snippet) <= 160
    json_safe(result)


def test_broken_base64_is_decoded_as_far_as_possible() -> None:
    raw = crlf("""
        Subject: b64
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: base64

        SGVsbG8g*d29y!bGQ
    """)
    result = full(raw)

    assert result.text == "Hello world"
    defects = messages(result.warnings, "parse-defect")
    assert any(message.startswith("part 0:") and "base64" in message for message in defects)


def test_missing_closing_boundary() -> None:
    raw = CLASSIFY[: CLASSIFY.index(b"--outer\r\nContent-Type: image/gif")]
    result = full(raw)

    assert [a.filename for a in result.attachments] == ["report.pdf"]
    assert result.text == "Plain body"
    assert "part 0: close boundary not found" in messages(result.warnings, "parse-defect")


def test_missing_start_boundary_keeps_the_body_as_one_part() -> None:
    raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=nope\r\n\r\nno boundary anywhere\r\n"
    result = full(raw)

    assert result.parts.children == ()
    assert part_content(raw, "0") == ("multipart/mixed", None, b"no boundary anywhere\r\n")
    assert any("start boundary not found" in message for message in messages(result.warnings, "parse-defect"))


def test_multipart_without_boundary_parameter() -> None:
    raw = b"Subject: x\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhello\r\n--x--\r\n"
    result = full(raw)

    assert result.parts.content_type == "multipart/mixed"
    assert "parse-defect" in codes(result.warnings)


def nested(depth: int) -> bytes:
    lines = [b"Subject: deep", b"Content-Type: multipart/mixed; boundary=b0", b""]
    for level in range(1, depth):
        lines += [b"--b%d" % (level - 1), b"Content-Type: multipart/mixed; boundary=b%d" % level, b""]
    lines += [b"--b%d" % (depth - 1), b"Content-Type: text/plain", b"", b"deep inside", b""]
    return b"\r\n".join(lines)


def test_deep_nesting_is_cut_off() -> None:
    result = full(nested(100))
    deepest = max(len(part.part_id.split(".")) for part in walk(result.parts))

    assert deepest == MAX_DEPTH
    assert any(f"nested over {MAX_DEPTH}" in message for message in messages(result.warnings, "mime-limit"))


def test_absurd_nesting_falls_back_to_one_part() -> None:
    raw = nested(1500)  # the stdlib parser recurses per level and hits the recursion limit
    result = full(raw)

    assert result.summary.subject == "deep"
    assert result.parts.children == ()
    assert any("unreadable" in message for message in messages(result.warnings, "parse-defect"))
    assert isinstance(parse_email(raw), EmailMessage)


def test_parse_defects_are_capped() -> None:
    lines = [b"Subject: many", b"Content-Type: multipart/mixed; boundary=b", b""]
    lines += [b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\n%d!!!=" % i for i in range(60)]
    raw = b"\r\n".join(lines)
    defects = messages(full(raw).warnings, "parse-defect")

    assert len(defects) == 21
    assert defects[-1] == "more parse defects than the 20 listed"


def test_defect_cap_marker_appears_once_when_both_views_overflow() -> None:
    lines = [b"Subject: many", b"Content-Type: multipart/mixed; boundary=b", b""]
    lines += [b"--b\r\nContent-Type: multipart/mixed\r\n\r\npart %d" % i for i in range(40)]  # no boundary
    raw = b"\r\n".join(lines)
    summary_defects = messages(stored(raw).summary.warnings, "parse-defect")
    full_defects = messages(full(raw).warnings, "parse-defect")

    assert len(summary_defects) == 21
    assert full_defects == summary_defects


def test_full_view_warnings_extend_the_summary_without_duplicates() -> None:
    raw = crlf("""
        Subject: late defects
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain

        body
        --b
        Content-Type: application/octet-stream; name="x.bin"
        Content-Transfer-Encoding: base64

        AAA*A
        --b--
    """)
    result = stored(raw)
    view = parse_full(result.summary, raw)

    assert view.warnings[: len(result.summary.warnings)] == result.summary.warnings
    assert len(set(view.warnings)) == len(view.warnings)
    assert not any("base64" in w.message for w in result.summary.warnings), "summarize decodes no attachment"
    assert any(w.message.startswith("part 2:") and "base64" in w.message for w in view.warnings)


def test_large_message_summary_does_not_decode_attachments() -> None:
    blob = base64.encodebytes(random.Random(3).randbytes(1_500_000)).replace(b"\n", b"\r\n")
    blob = blob[:1000] + b"*" + blob[1000:]  # a defect that only decoding can find
    raw = (
        crlf("""
        Subject: big attachment
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain

        see attachment
        --b
        Content-Type: application/octet-stream; name="big.bin"
        Content-Transfer-Encoding: base64

    """)
        + blob
        + b"\r\n--b--\r\n"
    )
    result = stored(raw)

    assert result.summary.attachments == 1
    assert result.summary.snippet == "see attachment"
    assert "parse-defect" not in codes(result.summary.warnings)
    assert "parse-defect" in codes(parse_full(result.summary, raw).warnings)


def mutations(raw: bytes, count: int) -> Iterator[bytes]:
    rng = random.Random(20240501)
    for _ in range(count):
        data = bytearray(raw)
        kind = rng.randrange(4)
        at = rng.randrange(len(data))
        if kind == 0:
            del data[at:]
        elif kind == 1:
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:
            data[at:at] = rng.choice(
                [b"=?", b"\r\n--outer\r\n", b"\r\n\r\n", b';;"', b"\xff\xfe", b"<", b"\r"]
            )
        else:
            del data[at : at + rng.randrange(1, 200)]
        yield bytes(data)


def test_mutated_messages_never_raise() -> None:
    for raw in mutations(CLASSIFY, 250):
        result = full(raw)
        assert result.summary.size == len(raw)
        assert codes(result.warnings) <= KNOWN_CODES
        for part in walk(result.parts):
            assert part_content(raw, part.part_id) is not None
        json_safe(result)
        json_safe(stored(raw).body_text)
        assert isinstance(parse_email(raw), EmailMessage)


@pytest.mark.parametrize("path", sorted(MALFORMED.glob("*.eml")), ids=lambda path: path.name)
def test_malformed_fixtures(path: Path) -> None:
    expected = {
        "unknown-charsets.eml": {"charset-unknown"},
        "broken-mime.eml": {
            "missing-date",
            "missing-message-id",
            "bcc-header",
            "duplicate-content-id",
            "parse-defect",
        },
        "junk-headers.eml": {"header-error", "missing-message-id", "parse-defect"},
    }[path.name]
    raw = path.read_bytes()
    result = full(raw)

    assert codes(result.warnings) == expected
    json_safe(result)


def test_unknown_charsets_fixture_reads_sensibly() -> None:
    result = full((MALFORMED / "unknown-charsets.eml").read_bytes())

    assert result.summary.subject == "café and foo"
    assert result.summary.from_ == Address("René", "rene@example.com")
    assert result.text == "café au lait"
    assert [a.filename for a in result.attachments] == ["menü.txt"]


# --- scan_raw -------------------------------------------------------------------------------------------


def test_scan_raw_clean_input() -> None:
    assert scan_raw(SIMPLE, declared_8bitmime=False) == []
    assert scan_raw(b"", declared_8bitmime=False) == []


def test_scan_raw_bare_lf() -> None:
    warnings = scan_raw(b"Subject: x\r\n\r\nline one\nline two\r\nline three\n", declared_8bitmime=True)

    assert codes(warnings) == {"bare-lf"}
    assert warnings[0].message.startswith("2 ")
    assert "line 3" in warnings[0].message


def test_scan_raw_bare_cr() -> None:
    warnings = scan_raw(b"Subject: x\r\n\r\nover\rwritten\r\n", declared_8bitmime=True)

    assert codes(warnings) == {"bare-cr"}
    assert warnings[0].message.startswith("1 ")


def test_scan_raw_long_lines() -> None:
    raw = b"a" * 998 + b"\r\n" + b"b" * 999 + b"\r\n" + b"c" * 1500 + b"\r\nshort\r\n"
    warnings = scan_raw(raw, declared_8bitmime=True)

    assert codes(warnings) == {"long-line"}
    assert warnings[0].message.startswith("2 ")
    assert "1500" in warnings[0].message


def test_scan_raw_8bit() -> None:
    raw = "Subject: x\r\n\r\ncafé\r\n".encode()

    warnings = scan_raw(raw, declared_8bitmime=False)
    assert codes(warnings) == {"8bit-without-8bitmime"}
    assert warnings[0].message.startswith("2 ")
    assert "line 3" in warnings[0].message
    assert scan_raw(raw, declared_8bitmime=True) == []


def test_scan_raw_finds_every_problem_in_10_mb() -> None:
    raw = (b"x" * 76 + b"\r\n") * 130_000 + b"y" * 5000 + b"\n" + bytes(range(256)) * 4
    warnings = scan_raw(raw, declared_8bitmime=False)

    assert codes(warnings) == {"bare-lf", "bare-cr", "long-line", "8bit-without-8bitmime"}


# --- parse_email ----------------------------------------------------------------------------------------


def test_parse_email_gives_a_default_policy_message() -> None:
    message = parse_email(CLASSIFY)

    assert isinstance(message, EmailMessage)
    assert isinstance(message.policy, EmailPolicy)
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Plain body"
    assert [part.get_filename() for part in message.iter_attachments()][:1] == ["report.pdf"]


def test_parse_email_headers_that_policy_default_cannot_parse_read_as_text() -> None:
    message = parse_email(b"To: =?utf-8?q?x?= <\r\nMessage-ID: <\r\nSubject: ok\r\n\r\nbody\r\n")

    assert str(message["To"]) == "x <"
    assert str(message["Message-ID"]) == "<"
    assert str(message["Subject"]) == "ok"


def test_parse_email_of_empty_and_junk_input() -> None:
    assert isinstance(parse_email(b""), EmailMessage)
    assert isinstance(parse_email(random.Random(5).randbytes(5000)), EmailMessage)


# --- the shared corpus of real-world mail ---------------------------------------------------------------

CORPUS_SUBJECTS = {
    "mail_malformed_1.eml": "immagine",
    "mail_test_1.eml": "письмо уведом-е",  # noqa: RUF001 (Cyrillic on purpose)
    "mail_test_5.eml": "Je prépare mon été zéro complexe !",
    "mail_test_12.eml": "代开各地增值税发票",
    "mail_test_13.eml": "New Webinar: So, You Have A Disaster... Now What?",
    "mail_test_17.eml": "Transferencia Interbancaria Banca en Línea",
}


def corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} not found (shared/ must sit beside the repository)")
    return path


@pytest.mark.parametrize(
    "path", CORPUS_FILES or [None], ids=lambda path: path.name if isinstance(path, Path) else "no-corpus"
)
def test_corpus_message(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"corpus not found at {CORPUS} (shared/ must sit beside the repository)")
    raw = path.read_bytes()
    result = stored(raw)
    view = parse_full(result.summary, raw)

    assert "=?" not in result.summary.subject, "encoded words left undecoded"
    if path.name in CORPUS_SUBJECTS:
        assert result.summary.subject == CORPUS_SUBJECTS[path.name]
    assert len(result.summary.snippet) <= 160
    assert codes(view.warnings) <= KNOWN_CODES
    assert view.parts.part_id == "0"
    part_ids = {part.part_id for part in walk(view.parts)}
    assert {a.part_id for a in view.attachments + view.inline} <= part_ids
    assert result.summary.attachments == len(view.attachments)
    for part in walk(view.parts):
        content = part_content(raw, part.part_id)
        assert content is not None and content[0] == part.content_type
    json_safe(view)


def test_corpus_structure_is_recognised() -> None:
    raw = corpus_file("mail_test_2.eml").read_bytes()
    view = full(raw)

    assert [a.filename for a in view.attachments] == ["Bollettino.pdf"]
    assert {a.content_id for a in view.inline} == {"intestazione.jpg", "logo.jpg"}
    assert view.text is not None and "Ufficio Meteorologico" in view.text
    content = part_content(raw, view.attachments[0].part_id)
    assert content is not None and content[2].startswith(b"%PDF")


def test_corpus_mislabelled_body_and_inline_images() -> None:
    assert "增值税" in (full(corpus_file("mail_test_12.eml").read_bytes()).text or "")
    view = full(corpus_file("mail_test_10.eml").read_bytes())
    assert len(view.inline) == 3 and all(a.content_type == "image/gif" for a in view.inline)
    assert [a.filename for a in view.attachments] == ["Move To Eight ZWEP6227F.pdf"]


def many_parts(count: int) -> bytes:
    lines = [b"Subject: wide", b"Content-Type: multipart/mixed; boundary=w", b""]
    for index in range(count):
        lines += [
            b"--w",
            b"Content-Type: text/csv",
            b"Content-Disposition: attachment; filename=f%d.csv" % index,
        ]
        lines += [b"", b"%d" % index]
    lines += [b"--w--", b""]
    return b"\r\n".join(lines)


def test_parts_past_the_part_limit_are_not_walked() -> None:
    result = full(many_parts(MAX_PARTS + 100))

    assert len(list(walk(result.parts))) == MAX_PARTS
    assert len(result.attachments) == MAX_PARTS - 1  # the root is one of the parts
    assert any(f"over {MAX_PARTS} parts" in message for message in messages(result.warnings, "mime-limit"))
    assert "mime-limit" not in codes(full(many_parts(MAX_PARTS - 1)).warnings)


def nested_messages(levels: int) -> bytes:
    inner = b"Subject: core\r\n\r\nthe innermost text\r\n"
    for level in range(levels):
        inner = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % level + inner
    return b"Subject: outer\r\n" + inner


def test_nested_messages_past_the_depth_limit_stay_in_the_deepest_part() -> None:
    raw = nested_messages(200)
    result = full(raw)

    deepest = ".".join(["1"] * MAX_DEPTH)
    assert max(part.part_id for part in walk(result.parts)) == deepest
    assert any(f"nested over {MAX_DEPTH}" in message for message in messages(result.warnings, "mime-limit"))
    content = part_content(raw, deepest)
    assert content is not None
    assert content[0] == "message/rfc822"
    assert content[2].startswith(b"Subject: level %d\r\n" % (199 - MAX_DEPTH - 1))
    assert content[2].endswith(b"the innermost text\r\n")
    # The outermost embedded message still serialises everything inside it.
    outer = part_content(raw, "1")
    assert outer is not None and outer[2].endswith(b"the innermost text\r\n")
    assert "mime-limit" not in codes(full(nested_messages(MAX_DEPTH - 1)).warnings)


def test_a_parse_defect_quoting_an_undecodable_byte_stays_valid_unicode() -> None:
    # Found by the SMTP fuzz test: the defect's text held the lone surrogate of byte 0x80, which no JSON
    # answer can carry (the message list answered 500).
    summary = stored(b"\t\x80\r\n").summary
    defects = [w.message for w in summary.warnings if w.code == "parse-defect"]
    assert defects and all(message.encode("utf-8") for message in defects)
    assert any("\ufffd" in message for message in defects)
