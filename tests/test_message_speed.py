"""The shortcuts that make summaries of large messages cheap must not change any summary."""

from __future__ import annotations

import base64
import os
import random

import pytest

from mailtrap_lite import message
from mailtrap_lite.model import Envelope, Recipient
from tests.conftest import CORPUS

ENVELOPE = Envelope("a@example.com", recipients=(Recipient("b@example.com", 250, "ok"),))


def _summary(raw: bytes) -> object:
    stored = message.summarize(
        raw,
        message_id="m",
        session_id="s",
        mailbox="default",
        received_at=message.datetime(2024, 1, 1, tzinfo=message.UTC),
        envelope=ENVELOPE,
    )
    return stored.summary, stored.body_text


def _b64(size: int, line: int = 76) -> bytes:
    encoded = base64.b64encode(os.urandom(size))
    return b"\r\n".join(encoded[i : i + line] for i in range(0, len(encoded), line)) + b"\r\n"


def _mixed(*parts: bytes, boundary: bytes = b"b1") -> bytes:
    out = (
        b'Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="'
        + boundary
        + b'"\r\n\r\n'
    )
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part
    return out + b"--" + boundary + b"--\r\n"


PDF = b'Content-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
TEXT = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
BROKEN = _b64(300_000)
BROKEN = BROKEN[:150_000] + b"!!!!\r\n" + BROKEN[150_000:]

LARGE = {
    "attachment": _mixed(b"Content-Type: text/plain\r\n\r\nhello\r\n", PDF + _b64(400_000)),
    "odd-padding": _mixed(PDF + _b64(300_001)),
    "short-lines": _mixed(PDF + _b64(300_000, line=60)),
    "ragged-lines": _mixed(PDF + _b64(200_000, line=76) + _b64(100_000, line=61)),
    "bad-char": _mixed(PDF + BROKEN),
    "text-in-base64": _mixed(TEXT + _b64(300_000)),
    "no-type-base64": _mixed(b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(300_000)),
    "bare-lf-lines": _mixed(PDF + _b64(300_000).replace(b"\r\n", b"\n")),
    "nested": _mixed(
        b"Content-Type: message/rfc822\r\n\r\n" + _mixed(PDF + _b64(300_000), boundary=b"inner"),
        PDF + _b64(200_000),
    ),
    "single-part": b"Subject: s\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + _b64(400_000),
}


@pytest.mark.parametrize("name", sorted(LARGE))
def test_skeleton_keeps_large_summaries(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = LARGE[name]
    fast = _summary(raw)
    monkeypatch.setattr(message, "_SKELETON_MIN_BYTES", len(raw) + 1)  # the plain parse, for reference
    assert fast == _summary(raw)


def test_skeleton_cuts_attachments_but_not_text() -> None:
    assert len(message.skeleton(LARGE["attachment"])) < 10_000
    assert message.skeleton(LARGE["text-in-base64"]) == LARGE["text-in-base64"]
    assert message.skeleton(LARGE["bad-char"]) == LARGE["bad-char"]  # not clean base64: parsed whole


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")
def test_skeleton_keeps_corpus_summaries(monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    assert files
    monkeypatch.setattr(message, "_SKELETON_MIN_BYTES", 0)  # cut wherever possible, even in small mail
    fast = [_summary(path.read_bytes()) for path in files]
    monkeypatch.setattr(message, "_SKELETON_MIN_BYTES", 1 << 40)
    assert fast == [_summary(path.read_bytes()) for path in files]


@pytest.mark.parametrize("seed", range(20))
def test_long_line_check_agrees_with_splitting(seed: int) -> None:
    rng = random.Random(seed)
    lines = [b"x" * rng.choice((0, 1, 76, 497, 498, 499, 500, 997, 998, 999, 1000, 1500)) for _ in range(60)]
    raw = b"".join(line + rng.choice((b"\r\n", b"\n", b"\r")) for line in lines)
    longest = max(map(len, raw.splitlines()))
    warned = any(w.code == "long-line" for w in message.scan_raw(raw, declared_8bitmime=True))
    assert warned == (longest > message.MAX_LINE_OCTETS)
