"""The filters of ``wait_for``, ``get``, ``assert_sent`` and friends.

A filter becomes two things: a search query (``search.py``'s language) that the server evaluates — and
that the long-poll waits on — and exact checks run here on each candidate. The query is always looser
than the checks (substrings, case-insensitive), so nothing the checks accept is ever filtered out by it;
the checks also say *why* a message does not match, for failure messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from email.utils import parseaddr
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mailtrap_lite.testing.messages import Message


class Filters(TypedDict, total=False):
    to: str  # an address in the To header (exact, case-insensitive)
    from_: str  # the From header's address
    subject: str  # the whole subject, exactly
    subject_contains: str  # part of the subject (case- and whitespace-insensitive)
    text_contains: str  # part of the text body, or of the HTML body's visible text (likewise)
    rcpt: str  # an accepted envelope recipient (Bcc included)
    has_attachment: bool
    tag: str  # one of the message's tags (case-insensitive)
    q: str  # a raw search query, ANDed with the rest


_WHITESPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip().lower()


def _phrase(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bare(address: str) -> str:
    """``Ann <ann@example.com>`` or ``<ann@example.com>`` → ``ann@example.com`` (lowercased)."""
    parsed = parseaddr(address)[1] or address.strip().strip("<>")
    return parsed.lower()


@dataclass(frozen=True, slots=True)
class Filter:
    to: str | None = None
    from_: str | None = None
    subject: str | None = None
    subject_contains: str | None = None
    text_contains: str | None = None
    rcpt: str | None = None
    has_attachment: bool | None = None
    tag: str | None = None
    q: str | None = None

    @classmethod
    def of(cls, given: Mapping[str, object]) -> Filter:
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise TypeError(f"unknown mail filter(s) {', '.join(unknown)}; use {', '.join(names)}")
        for name, value in given.items():
            expected = bool if name == "has_attachment" else str
            if value is not None and not isinstance(value, expected):
                raise TypeError(f"filter {name} takes a {expected.__name__}, got {value!r}")
        return cls(**given)  # type: ignore[arg-type]

    def __str__(self) -> str:
        values = ((f.name, getattr(self, f.name)) for f in fields(self))
        given = [f"{name}={value!r}" for name, value in values if value is not None]
        return ", ".join(given) if given else "any message"

    def query(self) -> str | None:
        """The search query that pre-selects candidates on the server (None: every message)."""
        terms: list[str] = []
        for field_name, value in (("to", self.to), ("from", self.from_), ("rcpt", self.rcpt)):
            if value is not None and _bare(value):
                terms.append(f"{field_name}:{_phrase(_bare(value))}")
        for value in (self.subject, self.subject_contains):
            if value is not None and value.strip():
                terms.append(f"subject:{_phrase(value)}")
        if self.has_attachment is not None:
            terms.append("has:attachment" if self.has_attachment else "-has:attachment")
        if self.tag is not None and self.tag.strip():
            terms.append(f"tag:{_phrase(self.tag)}")
        # text_contains stays client-side: search reads the text body only when there is one, and the
        # needle may be in the HTML alternative alone.
        if self.q is not None and self.q.strip():
            terms.append(self.q.strip())
        return " ".join(terms) or None

    def mismatch(self, message: Message) -> str | None:
        """Why ``message`` does not match (the first reason), or None. ``q`` is left to the server."""
        if self.to is not None and _bare(self.to) not in {a.address.lower() for a in message.to}:
            shown = ", ".join(a.address for a in message.to) or "empty"
            return f"To is {shown}, not {_bare(self.to)}"
        if self.from_ is not None:
            sender = message.from_.address if message.from_ else ""
            if sender.lower() != _bare(self.from_):
                return f"From is {sender or 'missing'}, not {_bare(self.from_)}"
        if self.rcpt is not None and _bare(self.rcpt) not in {_bare(r) for r in message.recipients}:
            return (
                f"envelope recipients are {', '.join(message.recipients) or 'none'}, not {_bare(self.rcpt)}"
            )
        if self.subject is not None and message.subject != self.subject:
            return f"subject is {message.subject!r}, not {self.subject!r}"
        if self.subject_contains is not None and _norm(self.subject_contains) not in _norm(message.subject):
            return f"subject {message.subject!r} does not contain {self.subject_contains!r}"
        if self.has_attachment is not None and (message.attachment_count > 0) != self.has_attachment:
            return "it has no attachment" if self.has_attachment else "it has an attachment"
        if self.tag is not None and _norm(self.tag) not in {_norm(tag) for tag in message.tags}:
            return f"tags are {', '.join(message.tags) or 'none'}, not {_norm(self.tag)}"
        if self.text_contains is not None and not self._body_contains(message, self.text_contains):
            return f"body does not contain {self.text_contains!r}"
        return None

    @staticmethod
    def _body_contains(message: Message, needle: str) -> bool:
        from mailtrap_lite.mime_safe import html_to_text

        wanted = _norm(needle)
        if wanted in _norm(message.text or ""):
            return True
        return bool(message.html) and wanted in _norm(html_to_text(message.html or ""))
