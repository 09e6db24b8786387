"""FETCH items, sections, ENVELOPE and BODYSTRUCTURE over raw messages, without sockets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailtrap_lite.imap import fetch, mime
from mailtrap_lite.imap.parser import Atom, ParenList, ParseError
from mailtrap_lite.imap.strings import Literal, summary, wire
from mailtrap_lite.message import build_message
from mailtrap_lite.model import Envelope
from tests.conftest import CORPUS

NESTED = (
    b"From: =?utf-8?q?Z=C3=B6e?= <zoe@example.com>\r\n"
    b"To: a@example.com, Bee <b@example.com>\r\n"
    b"Subject: Forwarded\r\n"
    b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <outer@example.com>\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"See below.\r\n"
    b"Two lines.\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"Content-Description: the original\r\n"
    b"\r\n"
    b"From: inner@example.com\r\n"
    b"Subject: Original\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"plain\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>html</p>\r\n"
    b"--inner--\r\n"
    b"--outer--\r\n"
)


def items(text: str) -> list[fetch.Item]:
    if text in ("ALL", "FAST", "FULL"):  # a macro stands alone, never in a list
        return fetch.parse_items((Atom(text),), "t")
    return fetch.parse_items((ParenList((Atom(text),)),), "t")


def section(text: str, raw: bytes = NESTED) -> bytes | None:
    (item,) = items(text)
    found = fetch.section_bytes(item, mime.parse(raw), raw)
    if found is not None and item.partial is not None:
        return found[item.partial[0] : item.partial[0] + item.partial[1]]
    return found


def test_sections_cut_the_bytes_as_received() -> None:
    assert section("BODY[]") == NESTED
    header = section("BODY[HEADER]")
    assert header is not None and header.endswith(b'boundary="outer"\r\n\r\n')
    assert header + (section("BODY[TEXT]") or b"") == NESTED
    # The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1), not to the part.
    assert section("BODY[1]") == b"See below.\r\nTwo lines."
    assert section("BODY[1.MIME]") == b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    assert section("BODY[2.HEADER]", NESTED) is not None
    assert (section("BODY[2.HEADER]") or b"").startswith(b"From: inner@example.com\r\n")
    assert section("BODY[2.1]") == b"plain"
    assert section("BODY[2.2]") == b"<p>html</p>"
    assert section("BODY[2.TEXT]", NESTED) is not None and section("BODY[3]") is None
    assert section("BODY[HEADER.FIELDS (subject TO)]") == (
        b"To: a@example.com, Bee <b@example.com>\r\nSubject: Forwarded\r\n\r\n"
    )
    not_fields = section("BODY[HEADER.FIELDS.NOT (Content-Type Date Message-ID From To)]")
    assert not_fields == b"Subject: Forwarded\r\n\r\n"
    assert section("BODY.PEEK[]<6.4>") == b"=?ut"


def test_a_single_part_message_is_its_own_part_one() -> None:
    raw = b"Subject: x\r\n\r\nbody\r\n"
    assert section("BODY[1]", raw) == b"body\r\n"
    assert section("BODY[TEXT]", raw) == b"body\r\n"
    assert section("BODY[2]", raw) is None


def render(text: str, raw: bytes = NESTED) -> str:
    stored = build_message("m1", raw, Envelope("a@x"), "s1", False)
    found = stored.summary.__class__(**{**_fields(stored.summary), "uid": 7})
    return summary(fetch.render(items(text), 3, found, ["\\Seen"], raw))


def _fields(summary: object) -> dict[str, object]:
    return {name: getattr(summary, name) for name in summary.__slots__}  # type: ignore[attr-defined]


def test_envelope_keeps_header_values_as_sent() -> None:
    zoe = '(("=?utf-8?q?Z=C3=B6e?=" NIL "zoe" "example.com"))'
    to = '((NIL NIL "a" "example.com")("Bee" NIL "b" "example.com"))'
    assert render("ENVELOPE") == (
        f'* 3 FETCH (ENVELOPE ("Thu, 26 Nov 2026 10:00:00 +0000" "Forwarded" {zoe} {zoe} {zoe} {to} '
        'NIL NIL NIL "<outer@example.com>"))'
    )  # Sender and Reply-To default to From (RFC 3501 §7.4.2)


def test_bodystructure_describes_nested_parts() -> None:
    text = render("BODYSTRUCTURE")
    assert text.startswith(
        '* 3 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 22 2 '
    )
    assert '("MESSAGE" "RFC822" NIL NIL "the original" "7BIT" ' in text
    assert '(NIL "Original" ((NIL NIL "inner" "example.com")) ' in text
    assert '"ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)' in text
    assert text.endswith(' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL))')
    short = render("BODY")
    assert '"MIXED")' in short and "BOUNDARY" not in short


def test_flags_uid_size_and_internal_date() -> None:
    text = render("FAST")
    assert (
        text.startswith('* 3 FETCH (FLAGS (\\Seen) INTERNALDATE "') and f"RFC822.SIZE {len(NESTED)})" in text
    )
    assert render("UID") == "* 3 FETCH (UID 7)"
    assert fetch.internal_date(datetime(2026, 11, 2, 8, 5, 9, tzinfo=UTC)) == "02-Nov-2026 08:05:09 +0000"


def test_bodies_travel_as_literals_and_show_as_sizes() -> None:
    stored = build_message("m1", NESTED, Envelope("a@x"), "s1", False)
    pieces = fetch.render(items("BODY.PEEK[1]"), 1, stored.summary, [], NESTED)
    assert Literal(b"See below.\r\nTwo lines.") in pieces
    assert wire(pieces) == b"* 1 FETCH (BODY[1] {22}\r\nSee below.\r\nTwo lines.)\r\n"
    assert summary(pieces) == "* 1 FETCH (BODY[1] {22} <22 bytes>)"


@pytest.mark.parametrize(
    "text", ["BODY[", "BODY[MIME]", "BODY[0]", "BODY[1.FOO]", "BODY[]<1.0>", "BODY[HEADER.FIELDS]", "NOPE"]
)
def test_invalid_fetch_items_are_errors(text: str) -> None:
    with pytest.raises(ParseError):
        items(text)


def test_every_corpus_message_renders_and_reassembles() -> None:
    """Real (often malformed) mail: the structure always renders, and header + text is the message."""
    everything = items("BODYSTRUCTURE")[0], items("ENVELOPE")[0]
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        stored = build_message("m1", raw, Envelope("a@x"), "s1", False)
        text = summary(fetch.render(list(everything), 1, stored.summary, [], raw))
        assert text.startswith("* 1 FETCH (BODYSTRUCTURE ("), path.name
        root = mime.parse(raw)
        assert root.header + root.body == raw, path.name
