"""The mailbox routes: ``GET /api/mailboxes`` and the bulk ``POST /api/messages/read`` / ``unread``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite import wire
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.search import parse_query, with_mailbox
from mailtrap_lite.web import access
from mailtrap_lite.web.context import context
from mailtrap_lite.web.params import MAX_PAGE, json_object

MARK_FIELDS = ("query", "mailbox", "ids")


async def list_mailboxes(request: Request) -> Response:
    found = await context(request).service.mailboxes(access.allowed(request))
    return JSONResponse(wire.record_json(wire.MailboxList(tuple(found))))


async def mark_read(request: Request) -> Response:
    return await _mark(request, read=True)


async def mark_unread(request: Request) -> Response:
    return await _mark(request, read=False)


async def _mark(request: Request, *, read: bool) -> Response:
    """Mark read or unread the messages a JSON body names: ``ids``, or those matching ``query`` (and
    ``mailbox``); ``{}`` means every message the user may see."""
    body = await json_object(request)
    unknown = set(body) - set(MARK_FIELDS)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))} (allowed: {', '.join(MARK_FIELDS)})")
    text, mailbox, ids = (body.get(name) for name in MARK_FIELDS)
    if text is not None and not isinstance(text, str):
        raise BadRequest("query must be a search query string")
    if mailbox is not None and not isinstance(mailbox, str):
        raise BadRequest("mailbox must be a mailbox name")
    service = context(request).service
    if ids is not None:
        if text is not None or mailbox is not None:
            raise BadRequest("give ids, or query and/or mailbox, not both")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > MAX_PAGE:
            raise BadRequest(f"ids must be a list of at most {MAX_PAGE} message ids")
        visible = [await access.message_id(request, message_id) for message_id in dict.fromkeys(ids)]
        changed = await service.mark_ids(visible, read=read)
    else:
        query = parse_query(text)
        scoped = access.scoped(request, with_mailbox(query if query else None, mailbox))
        changed = await service.mark_matching(scoped, read=read)
    return JSONResponse(wire.record_json(wire.Marked(read, len(changed), tuple(changed))))


routes = [
    Route("/api/mailboxes", list_mailboxes, methods=["GET"]),
    Route("/api/messages/read", mark_read, methods=["POST"]),
    Route("/api/messages/unread", mark_unread, methods=["POST"]),
]
