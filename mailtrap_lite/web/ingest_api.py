"""``POST /api/messages``: a raw message handed over HTTP, stored as if it came over SMTP.

The body is the message itself (``Content-Type: message/rfc822``), at most ``--max-message-size`` bytes.
The envelope comes from the query (``mail_from``, ``rcpt`` repeated or comma-separated) or, when absent,
from the message's headers: the sender from From (or Sender), the recipients from To, Cc and Bcc (else
from X-Original-To and Delivered-To, which delivery agents add to archived mail). The message is routed
into its mailbox as SMTP mail is; a user confined by ``--mailbox-access`` may post only into their own.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite import wire
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.raw_headers import header_values
from mailtrap_lite.web import access
from mailtrap_lite.web.context import context

MEDIA_TYPE = "message/rfc822"
# RFC 5321 §4.5.3.1.3: a path is at most 256 octets; an address is one token, without spaces or controls.
MAX_ADDRESS_CHARS = 256
_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f<>]+")


class TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the message is larger than --max-message-size ({limit} bytes)")


def _address(text: str, what: str) -> str:
    address = text.strip()
    if len(address) > MAX_ADDRESS_CHARS or not _ADDRESS.fullmatch(address):
        raise BadRequest(f"{what} is not an address: {text[:80]!r}")
    return address


def header_envelope(raw: bytes) -> tuple[str, list[str]]:
    """The envelope a message's own headers imply: sender from From (else Sender), recipients from To, Cc
    and Bcc in that order, each once (else X-Original-To and Delivered-To). Addresses a header cannot
    spell are left out."""

    def addresses(*names: str) -> list[str]:
        found: list[str] = []
        for name in names:
            for _, address in getaddresses(header_values(raw, name)):
                if address and _ADDRESS.fullmatch(address) and address not in found:
                    found.append(address)
        return found

    senders = addresses("From") or addresses("Sender")
    recipients = addresses("To", "Cc", "Bcc") or addresses("X-Original-To", "Delivered-To")
    return (senders[0] if senders else ""), recipients


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(limit)
    return bytes(body)


async def post_message(request: Request) -> Response:
    ctx = context(request)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != MEDIA_TYPE:
        given = media_type or "none"
        raise HTTPException(415, f"send the message as Content-Type: {MEDIA_TYPE} (got {given})")
    params = request.query_params
    unknown = set(params) - {"mail_from", "rcpt"}
    if unknown:
        raise BadRequest(f"unknown parameters: {', '.join(sorted(unknown))} (allowed: mail_from, rcpt)")
    raw = await read_body(request, ctx.config.max_message_size)
    if not raw.strip():
        raise BadRequest("the body is empty: send the message's bytes")
    mail_from, recipients = header_envelope(raw)
    if "mail_from" in params:
        given = params["mail_from"].strip()
        mail_from = "" if given in ("", "<>") else _address(given, "mail_from")
    if "rcpt" in params:
        recipients = [
            _address(part, "rcpt") for value in params.getlist("rcpt") for part in value.split(",") if part
        ]
    if not recipients:
        raise BadRequest("no recipients: give rcpt=ADDRESS, or a To, Cc or Bcc header in the message")
    if len(recipients) > ctx.config.max_recipients:
        raise BadRequest(
            f"too many recipients: {len(recipients)} (--max-recipients {ctx.config.max_recipients})"
        )
    client = request.client
    peer = f"{client.host}:{client.port}" if client is not None else "unknown"
    summary = await ctx.service.submit(
        raw, mail_from, recipients, peer=peer, mailboxes=access.allowed(request)
    )
    return JSONResponse(wire.record_json(summary), status_code=201)


routes = [Route("/api/messages", post_message, methods=["POST"])]
