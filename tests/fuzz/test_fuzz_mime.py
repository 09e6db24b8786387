"""The MIME summary and the full parse on random trees and on mutated real mail: they never raise, and
what they say is consistent (the size, every listed part fetchable at its size, known warning codes,
text that can be served as JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.message import build_message, parse_full, part_content
from mailtrap_lite.model import Envelope, Part, Recipient, to_json
from tests.conftest import CORPUS
from tests.fuzz.budget import examples
from tests.fuzz.mime_trees import messages

# Every warning code the README documents, protocol and MIME.
KNOWN_WARNINGS = frozenset(
    ["bare-lf", "bare-cr", "long-line", "8bit-without-8bitmime", "missing-date", "missing-message-id",
     "bcc-header", "duplicate-content-id", "parse-defect", "header-error", "charset-unknown", "mime-limit"]
)  # fmt: skip
ENVELOPE = Envelope("app@example.com", (), (Recipient("ann@example.com", 250, "2.1.5 Ok"),))


def parts_of(part: Part) -> Iterator[Part]:
    yield part
    for child in part.children:
        yield from parts_of(child)


def check(raw: bytes, eight_bit: bool = False) -> None:
    stored = build_message("m1", raw, ENVELOPE, "s1", eight_bit)
    summary = stored.summary
    assert summary.size == len(raw)
    assert stored.raw == raw
    assert {w.code for w in summary.warnings} <= KNOWN_WARNINGS
    full = parse_full(summary, raw)
    assert {w.code for w in full.warnings} <= KNOWN_WARNINGS
    # The summary's warnings are the full view's first ones: a message never loses one when opened.
    assert full.warnings[: len(summary.warnings)] == summary.warnings
    tree = list(parts_of(full.parts))
    assert tree[0].part_id == "0"
    ids = [part.part_id for part in tree]
    assert len(set(ids)) == len(ids)
    for part in tree:
        found = part_content(raw, part.part_id)
        assert found is not None, part.part_id
        if not part.content_type.startswith("multipart/"):
            assert len(found[2]) == part.size, part.part_id
    for attachment in (*full.attachments, *full.inline):
        assert attachment.part_id in ids
    assert part_content(raw, f"{len(tree) + 1}.1") is None
    # What the API serves: JSON that is valid UTF-8 (a lone surrogate would fail the response).
    document = {"summary": to_json(summary), "full": to_json(full), "body": stored.body_text}
    json.dumps(document, ensure_ascii=False).encode()


@examples(250)
@given(messages(), st.booleans())
def test_random_mime_trees(raw: bytes, eight_bit: bool) -> None:
    check(raw, eight_bit)


def _corpus() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared mail corpus is not at {CORPUS}")
    return sorted(CORPUS.glob("*.eml"), key=lambda path: path.stat().st_size)


_MUTATION = st.tuples(
    st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=64)
    | st.sampled_from([b"\r\n--", b"\r\n\r\n", b"=?utf-8?b?", b"Content-Type: multipart/mixed\r\n", b"\x00"]),
)


def mutate(raw: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, data in mutations:
        at = int(where * len(raw))
        if kind == "flip" and raw:
            at = min(at, len(raw) - 1)
            raw = raw[:at] + bytes([raw[at] ^ data[0]]) + raw[at + 1 :]
        elif kind == "truncate":
            raw = raw[:at]
        elif kind == "insert":
            raw = raw[:at] + data + raw[at:]
        elif kind == "delete":
            raw = raw[:at] + raw[at + len(data) :]
        else:
            raw = raw[:at] + raw[at : at + 4 * len(data)] * 2 + raw[at + 4 * len(data) :]
    return raw


@pytest.fixture(scope="module")
def corpus() -> list[bytes]:
    return [path.read_bytes() for path in _corpus()]


@examples(60)
@given(st.data(), st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_corpus_mail(
    corpus: list[bytes], data: st.DataObject, mutations: list[tuple[str, float, bytes]]
) -> None:
    original = data.draw(st.sampled_from(corpus))
    check(mutate(original, mutations))


def test_the_corpus_itself(corpus: list[bytes]) -> None:
    for raw in corpus:
        check(raw)


@examples(20)
@given(st.lists(st.sampled_from(["multipart", "message"]), min_size=1, max_size=400), st.booleans())
def test_absurd_nesting(levels: list[str], closed: bool) -> None:
    raw = b"Subject: deep\r\n"
    for depth, kind in enumerate(levels):
        if kind == "message":
            raw += b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
        else:
            raw += f'Content-Type: multipart/mixed; boundary="b{depth}"\r\n\r\n--b{depth}\r\n'.encode()
    raw += b"Content-Type: text/plain\r\n\r\nthe bottom\r\n"
    if closed:
        closing = [d for d in reversed(range(len(levels))) if levels[d] == "multipart"]
        raw += b"".join(f"--b{d}--\r\n".encode() for d in closing)
    check(raw)


def test_an_unsplit_multipart_with_8bit_text_inside_embedded_messages() -> None:
    # Found by test_random_mime_trees: the parser decodes the unsplit body to text with U+FFFD, which the
    # bytes generator cannot write; the embedded messages' content came back empty, not the size listed.
    check(
        b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
        b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
        b'Content-Type: multipart/mixed; boundary="other"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\n\x80\r\n"
    )
