"""The JSON API routes (described by /api/openapi.json): thin handlers that validate input and call the
MailService."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mailtrap_lite import wire
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.search import Query
from mailtrap_lite.service import MailService
from mailtrap_lite.store.base import RawStream, stream_of
from mailtrap_lite.web import access
from mailtrap_lite.web.context import WebContext, context
from mailtrap_lite.web.params import float_param, int_param, json_object, paging, query_param

# Served bytes of a message are the sender's: never let a browser render them as our origin's page.
UNTRUSTED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Referrer-Policy": "no-referrer",
}


# Bytes are sent in slices so the transport buffers one slice per client instead of a copy of the whole.


def service(request: Request) -> MailService:
    return context(request).service


async def list_messages(request: Request) -> Response:
    limit, offset = paging(request)
    page = await service(request).list_messages(scoped_query(request), limit, offset)
    return JSONResponse(wire.message_list_json(page.total, page.unread, page.messages))


async def wait_messages(request: Request) -> Response:
    """Long-poll until ``count`` messages match; woken by message.new events, never by sleeping."""
    query = scoped_query(request)
    count = int_param(request, "count", 1, low=1, high=1000)
    timeout = float_param(request, "timeout", 10.0, low=0.0, high=300.0)
    page, enough = await service(request).wait_matching(query, count, timeout)
    if not enough:
        return JSONResponse(
            {
                "error": f"timed out after {timeout:g}s: {page.total} of {count} messages matched",
                **wire.message_list_json(page.total, page.unread, page.messages),
            },
            status_code=408,
        )
    return JSONResponse(wire.message_list_json(page.total, page.unread, page.messages))


def scoped_query(request: Request) -> Query | None:
    """The request's ``q`` and ``mailbox``, confined to the mailboxes its user may see."""
    return access.scoped(request, query_param(request))


async def requested_id(request: Request) -> str:
    return await access.message_id(request, request.path_params["id"])


async def get_message(request: Request) -> Response:
    message = await service(request).message(await requested_id(request))
    return JSONResponse(wire.message_json(message))


async def get_raw(request: Request) -> Response:
    summary, stream = await service(request).raw_stream(await requested_id(request))
    headers = {"Content-Disposition": f'attachment; filename="{summary.id}.eml"', **UNTRUSTED_HEADERS}
    return stream_response(stream, "message/rfc822", headers)


async def get_part(request: Request) -> Response:
    content_type, filename, payload = await service(request).part(
        await requested_id(request), request.path_params["part_id"]
    )
    name = filename or f"part-{request.path_params['part_id']}"
    headers = {"Content-Disposition": attachment_disposition(name), **UNTRUSTED_HEADERS}
    media_type = content_type if _MEDIA_TYPE.fullmatch(content_type) else "application/octet-stream"
    return stream_response(stream_of(payload), media_type, headers)


def stream_response(stream: RawStream, media_type: str, headers: dict[str, str]) -> Response:
    headers = {"Content-Length": str(stream.size), **headers}
    return StreamingResponse(stream.chunks, media_type=media_type, headers=headers)


# RFC 6838 §4.2 restricted names, which is all a header value may safely carry here.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
MAX_FILENAME_CHARS = 255


def attachment_disposition(name: str) -> str:
    """A ``Content-Disposition: attachment`` value that is always a legal header, whatever the sender put in
    the file name: control characters (CR, LF, NUL...) become ``_``, and the name is given as a plain
    ASCII ``filename`` for old clients and exactly as UTF-8 in ``filename*`` (RFC 6266 §4.3, RFC 8187)."""
    clean = "".join("_" if unicodedata.category(char) in _UNSAFE else char for char in name)
    clean = clean.strip()[:MAX_FILENAME_CHARS] or "attachment"
    ascii_name = "".join(char if " " <= char <= "~" and char not in '"\\' else "_" for char in clean)
    encoded = quote(clean, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


# Control, format (bidi overrides), line/paragraph separators, unassigned and surrogate code points.
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Cs"})


async def get_message_session(request: Request) -> Response:
    mail = service(request)
    summary = await mail.summary(await requested_id(request))
    return JSONResponse(wire.session_json(await mail.session(summary.session_id)))


async def patch_message(request: Request) -> Response:
    body = await json_object(request)
    unknown = set(body) - {"read", "tags"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))} (allowed: read, tags)")
    read = body.get("read")
    if read is not None and not isinstance(read, bool):
        raise BadRequest("read must be true or false")
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise BadRequest("tags must be a list of strings")
    updated = await service(request).update(
        await requested_id(request), read=read, tags=tuple(tags) if tags is not None else None
    )
    return JSONResponse(wire.record_json(updated))


async def delete_message(request: Request) -> Response:
    await service(request).delete(await requested_id(request))
    return Response(status_code=204)


async def delete_messages(request: Request) -> Response:
    deleted = await service(request).delete_matching(scoped_query(request))
    return JSONResponse(wire.deleted_json(deleted))


async def list_sessions(request: Request) -> Response:
    limit, offset = paging(request)
    mailboxes = access.session_mailboxes(request, request.query_params.get("mailbox"))
    total, sessions = await service(request).list_sessions(limit, offset, mailboxes)
    return JSONResponse(wire.session_list_json(total, sessions))


async def get_session(request: Request) -> Response:
    session = await service(request).session(request.path_params["id"])
    return JSONResponse(wire.session_json(await access.session_visible(request, session)))


async def stats(request: Request) -> Response:
    return JSONResponse(await stats_data(context(request)))


async def stats_data(ctx: WebContext) -> wire.JSON:
    mail = await ctx.service.stats()
    stored = mail.store
    return wire.record_json(
        wire.Stats(
            version=ctx.version,
            store=stored.kind,
            messages=stored.messages,
            unread=stored.unread,
            sessions=stored.sessions,
            bytes=stored.bytes,
            db_size=stored.db_size,
            unindexed=stored.unindexed,
            writable=stored.writable,
            store_error=stored.problem,
            uptime_seconds=mail.uptime_seconds,
            received_total=mail.received,
            received_bytes_total=mail.received_bytes,
            rejected_total=mail.rejected,
            rejected_by_reason=mail.rejected_by_reason,
            sessions_total=mail.sessions_total,
            open_sessions=mail.open_sessions,
            subscribers=mail.subscribers,
            loop_lag_ms=mail.loop_lag_ms,
        )
    )


routes = [
    Route("/api/messages", list_messages, methods=["GET"]),
    Route("/api/messages", delete_messages, methods=["DELETE"]),
    Route("/api/messages/wait", wait_messages, methods=["GET"]),
    Route("/api/messages/{id}", get_message, methods=["GET"]),
    Route("/api/messages/{id}", patch_message, methods=["PATCH"]),
    Route("/api/messages/{id}", delete_message, methods=["DELETE"]),
    Route("/api/messages/{id}/raw", get_raw, methods=["GET"]),
    Route("/api/messages/{id}/parts/{part_id}", get_part, methods=["GET"]),
    Route("/api/messages/{id}/session", get_message_session, methods=["GET"]),
    Route("/api/sessions", list_sessions, methods=["GET"]),
    Route("/api/sessions/{id}", get_session, methods=["GET"]),
    Route("/api/stats", stats, methods=["GET"]),
]
