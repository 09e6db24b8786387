"""MailHog's JSON shapes, built from a summary and the raw bytes: pure functions, no I/O.

MailHog shows a message as received: ``Content.Headers`` maps each header name (as written) to its raw,
unfolded values (encoded words left as they are), ``Content.Body`` is everything after the header
section, and a ``multipart/*`` body is split at its boundary into ``MIME.Parts``, each again headers and
a still transfer-encoded body, which is what MailHog's clients decode. Unlike MailHog, a header that
appears twice keeps both values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message as EmailPart

from mailtrap_lite.model import MessageSummary

__all__ = [
    "RECORDS",
    "MailhogContent",
    "MailhogList",
    "MailhogMIME",
    "MailhogMessage",
    "MailhogPath",
    "MailhogRaw",
    "content_of",
    "mailhog_message",
    "path_of",
]

# A multipart body nested deeper than this is shown as one body: the split recurses once per level.
MAX_MIME_DEPTH = 32

_END_OF_HEADERS = re.compile(r"\r?\n\r?\n")
_LINE_END = re.compile(r"\r?\n")


@dataclass(frozen=True, slots=True)
class MailhogPath:
    Relays: tuple[str, ...] | None
    Mailbox: str
    Domain: str
    Params: str


@dataclass(frozen=True, slots=True)
class MailhogMIME:
    Parts: tuple[MailhogContent, ...]


@dataclass(frozen=True, slots=True)
class MailhogContent:
    Headers: dict[str, tuple[str, ...]]
    Body: str
    Size: int
    MIME: MailhogMIME | None


@dataclass(frozen=True, slots=True)
class MailhogRaw:
    From: str
    To: tuple[str, ...]
    Data: str
    Helo: str


@dataclass(frozen=True, slots=True)
class MailhogMessage:
    ID: str
    From: MailhogPath
    To: tuple[MailhogPath, ...]
    Content: MailhogContent
    Created: datetime
    MIME: MailhogMIME | None
    Raw: MailhogRaw


@dataclass(frozen=True, slots=True)
class MailhogList:
    total: int
    count: int
    start: int
    items: tuple[MailhogMessage, ...]


RECORDS: tuple[type, ...] = (MailhogList, MailhogMessage)


def path_of(address: str) -> MailhogPath:
    """An SMTP path as MailHog splits it: source-route relays, then mailbox@domain."""
    relays: tuple[str, ...] | None = None
    if ":" in address:
        route, address = address.split(":", 1)
        relays = tuple(route.split(","))
    mailbox, _, domain = address.partition("@")
    return MailhogPath(relays, mailbox, domain, "")


def _headers(section: str) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in _LINE_END.split(section):
        if last is not None and line[:1] in (" ", "\t"):
            last[-1] += line
        elif ":" in line:
            name, value = line.split(":", 1)
            last = found.setdefault(name.strip(), [])
            last.append(value.strip())
    return {name: tuple(values) for name, values in found.items()}


def _boundary(headers: dict[str, tuple[str, ...]]) -> str | None:
    content_type = next((v[0] for k, v in headers.items() if k.lower() == "content-type" and v), "")
    if not content_type.lower().lstrip().startswith("multipart/"):
        return None
    parsed = EmailPart()
    parsed["Content-Type"] = content_type
    boundary = parsed.get_param("boundary")
    return boundary if isinstance(boundary, str) and boundary else None


def content_of(data: str, depth: int = 0) -> MailhogContent:
    """One entity (a message or a MIME part): its headers, its body and, when multipart, its parts."""
    split = _END_OF_HEADERS.search(data)
    section, body = (data[: split.start()], data[split.end() :]) if split else ("", data)
    headers = _headers(section)
    boundary = _boundary(headers) if depth < MAX_MIME_DEPTH else None
    mime = None
    if boundary is not None:
        chunks = body.split("--" + boundary)[1:-1]
        parts = (content_of(chunk.strip("\r\n"), depth + 1) for chunk in chunks if chunk.strip("\r\n"))
        mime = MailhogMIME(tuple(parts))
    return MailhogContent(headers, body, len(data.encode()), mime)


def mailhog_message(summary: MessageSummary, raw: bytes, helo: str) -> MailhogMessage:
    data = raw.decode("utf-8", "replace")
    content = content_of(data)
    recipients: Sequence[str] = summary.envelope.accepted
    return MailhogMessage(
        ID=summary.id,
        From=path_of(summary.envelope.mail_from),
        To=tuple(map(path_of, recipients)),
        Content=content,
        Created=summary.received_at,
        MIME=content.MIME,
        Raw=MailhogRaw(summary.envelope.mail_from, tuple(recipients), data, helo),
    )
