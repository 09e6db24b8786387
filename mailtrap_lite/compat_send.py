"""Mailpit's ``POST /api/v1/send`` request (its ``SendRequest`` JSON) as a message and its envelope: pure
functions, no I/O. The message is built as a mail library would build it: From, To, Cc, Reply-To and
Subject headers, the given extra headers, a text and/or HTML body, attachments (inline when they carry a
ContentID); Bcc recipients are in the envelope only."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.model import utcnow

__all__ = ["Outgoing", "outgoing"]

_KNOWN = frozenset(
    {"From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Text", "HTML", "Headers", "Tags", "Attachments"}
)
# An address as Mailpit takes it: one token with an @, no spaces, controls or angle brackets.
_EMAIL = re.compile(r"[^\s\x00-\x1f\x7f<>@]+@[^\s\x00-\x1f\x7f<>@]+")
# RFC 5322 §3.6.8: a field name is printable ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]{1,76}")
_SET_BY_US = frozenset({"from", "to", "cc", "bcc", "reply-to", "subject"})


@dataclass(frozen=True, slots=True)
class Outgoing:
    raw: bytes
    mail_from: str
    recipients: tuple[str, ...]
    tags: tuple[str, ...]


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def _email(value: object, where: str) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise BadRequest(f"{where} is not an email address: {str(value)[:80]!r}")
    return value.strip()


def _address(value: object, where: str) -> Address:
    if not isinstance(value, dict) or set(value) - {"Email", "Name"}:
        raise BadRequest(f"{where} must be an object {{Email, Name}}")
    name = value.get("Name") or ""
    if not isinstance(name, str) or any(char in name for char in "\r\n\0"):
        raise BadRequest(f"{where}.Name must be one line of text")
    username, _, domain = _email(value.get("Email"), f"{where}.Email").rpartition("@")
    try:
        return Address(name, username, domain)
    except (ValueError, IndexError):
        raise BadRequest(f"{where}.Email is not an email address: {value.get('Email')!r}") from None


def _addresses(body: dict[str, Any], name: str) -> list[Address]:
    value = body.get(name) or []
    if not isinstance(value, list):
        raise BadRequest(f"{name} must be a list of {{Email, Name}} objects")
    return [_address(item, f"{name}[{i}]") for i, item in enumerate(value)]


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"{name} must be a list of strings")
    return value


def _headers(body: dict[str, Any]) -> list[tuple[str, str]]:
    value = body.get("Headers") or {}
    if not isinstance(value, dict):
        raise BadRequest("Headers must be an object of name: value")
    found: list[tuple[str, str]] = []
    for name, text in value.items():
        if not _FIELD_NAME.fullmatch(name) or name.lower() in _SET_BY_US:
            raise BadRequest(f"Headers: {name[:80]!r} is not a header name this request may set")
        if not isinstance(text, str) or any(char in text for char in "\r\n\0"):
            raise BadRequest(f"Headers: the value of {name} must be one line of text")
        found.append((name, text))
    return found


def _attach(message: EmailMessage, item: object, where: str) -> None:
    if not isinstance(item, dict) or not isinstance(item.get("Content"), str):
        raise BadRequest(f"{where} must be an object with Content (base64) and Filename")
    filename = item.get("Filename")
    if not isinstance(filename, str) or not filename.strip() or any(c in filename for c in "\r\n\0"):
        raise BadRequest(f"{where}.Filename must be a file name")
    try:
        data = base64.b64decode(item["Content"], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where}.Content is not base64") from None
    content_type = item.get("ContentType") or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    maintype, slash, subtype = str(content_type).partition("/")
    if not slash or not maintype or not subtype or any(c in content_type for c in "\r\n\0;"):
        raise BadRequest(f"{where}.ContentType is not a media type: {content_type!r}")
    content_id = item.get("ContentID")
    if content_id is not None and (not isinstance(content_id, str) or not _FIELD_NAME.fullmatch(content_id)):
        raise BadRequest(f"{where}.ContentID must be a word without spaces")
    disposition = "inline" if content_id else "attachment"
    cid = f"<{content_id}>" if content_id else None
    message.add_attachment(data, maintype, subtype, filename=filename, disposition=disposition, cid=cid)


def outgoing(body: dict[str, Any], hostname: str) -> Outgoing:
    """The message a SendRequest describes; BadRequest names the first field that is wrong."""
    unknown = set(body) - _KNOWN
    if unknown:
        raise BadRequest(
            f"unknown fields: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_KNOWN))})"
        )
    if "From" not in body:
        raise BadRequest("From is required: {Email, Name}")
    sender = _address(body["From"], "From")
    to, cc, reply_to = _addresses(body, "To"), _addresses(body, "Cc"), _addresses(body, "ReplyTo")
    bcc = [_email(value, f"Bcc[{i}]") for i, value in enumerate(_strings(body, "Bcc"))]
    recipients = tuple(dict.fromkeys([a.addr_spec for a in to + cc] + bcc))
    if not recipients:
        raise BadRequest("no recipients: give To, Cc or Bcc")
    text, html = _text(body, "Text"), _text(body, "HTML")
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    for name, addresses in (("To", to), ("Cc", cc), ("Reply-To", reply_to)):
        if addresses:
            message[name] = addresses
    message["Subject"] = _text(body, "Subject")
    extra = _headers(body)
    given = {name.lower() for name, _ in extra}
    if "date" not in given:
        message["Date"] = format_datetime(utcnow())
    if "message-id" not in given:
        message["Message-ID"] = make_msgid(domain=hostname)
    try:
        for name, value in extra:
            message[name] = value
    except ValueError as error:
        raise BadRequest(f"Headers: {error}") from None
    if html and text:
        message.set_content(text)
        message.add_alternative(html, subtype="html")
    elif html:
        message.set_content(html, subtype="html")
    else:
        message.set_content(text)
    attachments: Sequence[object] = body.get("Attachments") or []
    if not isinstance(attachments, list):
        raise BadRequest("Attachments must be a list")
    for i, item in enumerate(attachments):
        _attach(message, item, f"Attachments[{i}]")
    return Outgoing(message.as_bytes(), sender.addr_spec, recipients, tuple(_strings(body, "Tags")))
