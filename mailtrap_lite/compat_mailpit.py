"""Mailpit's JSON shapes, built from ours: pure functions over the model, no I/O.

The field names are Mailpit's (its API documentation, ``/api/v1/``), so each dataclass encodes with the
generic ``to_json`` and publishes its JSON Schema like every other shape (``wire.schemas_for``). Ids are
ours; part ids are our MIME positions (``1.2``), which a client only hands back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mailtrap_lite.model import Address, Attachment, Message, MessageSummary

__all__ = [
    "RECORDS",
    "MailpitAddress",
    "MailpitAttachment",
    "MailpitInfo",
    "MailpitList",
    "MailpitListUnsubscribe",
    "MailpitMessage",
    "MailpitRelay",
    "MailpitRuntimeStats",
    "MailpitSendConfirmation",
    "MailpitSummary",
    "MailpitWebUI",
    "header_map",
    "mailpit_list",
    "mailpit_message",
    "mailpit_summary",
]


@dataclass(frozen=True, slots=True)
class MailpitAddress:
    Name: str
    Address: str


@dataclass(frozen=True, slots=True)
class MailpitSummary:
    """One row of Mailpit's message list."""

    ID: str
    MessageID: str
    Read: bool
    From: MailpitAddress | None
    To: tuple[MailpitAddress, ...]
    Cc: tuple[MailpitAddress, ...]
    Bcc: tuple[MailpitAddress, ...]
    ReplyTo: tuple[MailpitAddress, ...]
    Subject: str
    Created: datetime
    Tags: tuple[str, ...]
    Size: int
    Attachments: int
    Snippet: str


@dataclass(frozen=True, slots=True)
class MailpitList:
    """``total``/``unread`` count the whole store, ``messages_count``/``messages_unread`` the matches."""

    total: int
    unread: int
    count: int
    messages_count: int
    messages_unread: int
    start: int
    tags: tuple[str, ...]
    messages: tuple[MailpitSummary, ...]


@dataclass(frozen=True, slots=True)
class MailpitAttachment:
    PartID: str
    FileName: str
    ContentType: str
    ContentID: str
    Size: int


@dataclass(frozen=True, slots=True)
class MailpitListUnsubscribe:
    Header: str
    Links: tuple[str, ...]
    Errors: str
    HeaderPost: str


@dataclass(frozen=True, slots=True)
class MailpitMessage:
    """Mailpit's full message (``GET /api/v1/message/{ID}``)."""

    ID: str
    MessageID: str
    From: MailpitAddress | None
    To: tuple[MailpitAddress, ...]
    Cc: tuple[MailpitAddress, ...]
    Bcc: tuple[MailpitAddress, ...]
    ReplyTo: tuple[MailpitAddress, ...]
    ReturnPath: str
    Subject: str
    ListUnsubscribe: MailpitListUnsubscribe
    Date: datetime
    Tags: tuple[str, ...]
    Text: str
    HTML: str
    Size: int
    Inline: tuple[MailpitAttachment, ...]
    Attachments: tuple[MailpitAttachment, ...]


@dataclass(frozen=True, slots=True)
class MailpitRuntimeStats:
    Memory: int
    MessagesDeleted: int
    SMTPAccepted: int
    SMTPAcceptedSize: int
    SMTPIgnored: int
    SMTPRejected: int
    Uptime: float


@dataclass(frozen=True, slots=True)
class MailpitInfo:
    Version: str
    LatestVersion: str
    Database: str
    DatabaseSize: int
    Messages: int
    Unread: int
    Tags: dict[str, int]
    RuntimeStats: MailpitRuntimeStats


@dataclass(frozen=True, slots=True)
class MailpitRelay:
    Enabled: bool
    SMTPServer: str
    AllowedRecipients: str
    BlockedRecipients: str
    ReturnPath: str
    OverrideFrom: str
    PreserveMessageIDs: bool


@dataclass(frozen=True, slots=True)
class MailpitWebUI:
    Label: str
    MessageRelay: MailpitRelay
    SpamAssassin: bool
    ChaosEnabled: bool
    DuplicatesIgnored: bool
    HideDeleteAllButton: bool


@dataclass(frozen=True, slots=True)
class MailpitSendConfirmation:
    ID: str


RECORDS: tuple[type, ...] = (MailpitList, MailpitMessage, MailpitInfo, MailpitWebUI, MailpitSendConfirmation)


def _address(address: Address) -> MailpitAddress:
    return MailpitAddress(address.name, address.address)


def _addresses(addresses: Iterable[Address]) -> tuple[MailpitAddress, ...]:
    return tuple(map(_address, addresses))


def _message_id(summary: MessageSummary) -> str:
    return (summary.message_id or "").strip().removeprefix("<").removesuffix(">")


def mailpit_summary(summary: MessageSummary) -> MailpitSummary:
    return MailpitSummary(
        ID=summary.id,
        MessageID=_message_id(summary),
        Read=summary.read,
        From=_address(summary.from_) if summary.from_ else None,
        To=_addresses(summary.to),
        Cc=_addresses(summary.cc),
        Bcc=_addresses(summary.bcc),
        ReplyTo=_addresses(summary.reply_to),
        Subject=summary.subject,
        Created=summary.received_at,
        Tags=summary.tags,
        Size=summary.size,
        Attachments=summary.attachments,
        Snippet=summary.snippet,
    )


def mailpit_list(
    *,
    total: int,
    unread: int,
    matched: int,
    matched_unread: int,
    start: int,
    tags: Sequence[str],
    messages: Sequence[MessageSummary],
) -> MailpitList:
    return MailpitList(
        total=total,
        unread=unread,
        count=len(messages),
        messages_count=matched,
        messages_unread=matched_unread,
        start=start,
        tags=tuple(tags),
        messages=tuple(map(mailpit_summary, messages)),
    )


def _attachment(found: Attachment) -> MailpitAttachment:
    return MailpitAttachment(
        PartID=found.part_id,
        FileName=found.filename or "",
        ContentType=found.content_type,
        ContentID=(found.content_id or "").strip().removeprefix("<").removesuffix(">"),
        Size=found.size,
    )


def header_map(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Headers as Mailpit answers them: name → every value in order, names sorted; the spellings of one
    name that differ only in case are one entry, under the first spelling seen."""
    found: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in headers:
        key = spelling.setdefault(name.lower(), name)
        found.setdefault(key, []).append(value)
    return dict(sorted(found.items()))


_ANGLED = re.compile(r"<([^<>]*)>")


def _unsubscribe(headers: dict[str, list[str]]) -> MailpitListUnsubscribe:
    lowered = {name.lower(): values for name, values in headers.items()}
    header = (lowered.get("list-unsubscribe") or [""])[0]
    links = tuple(link.strip() for link in _ANGLED.findall(header) if link.strip())
    errors = "" if links or not header else "no <link> in List-Unsubscribe"
    return MailpitListUnsubscribe(header, links, errors, (lowered.get("list-unsubscribe-post") or [""])[0])


def mailpit_message(message: Message) -> MailpitMessage:
    summary = message.summary
    return MailpitMessage(
        ID=summary.id,
        MessageID=_message_id(summary),
        From=_address(summary.from_) if summary.from_ else None,
        To=_addresses(summary.to),
        Cc=_addresses(summary.cc),
        Bcc=_addresses(summary.bcc),
        ReplyTo=_addresses(summary.reply_to),
        ReturnPath=summary.envelope.mail_from,
        Subject=summary.subject,
        ListUnsubscribe=_unsubscribe(header_map(message.headers)),
        Date=summary.date or summary.received_at,
        Tags=summary.tags,
        Text=message.text or "",
        HTML=message.html or "",
        Size=summary.size,
        Inline=tuple(map(_attachment, message.inline)),
        Attachments=tuple(map(_attachment, message.attachments)),
    )
