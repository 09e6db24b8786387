"""Mailpit's API (``/api/v1/`` and ``/view/``) over the MailService, so that Mailpit's clients work
unchanged: each handler reads Mailpit's request, asks the service, and answers in Mailpit's shape
(``compat_mailpit``). Searches are read by ``compat_search``."""

from __future__ import annotations

import resource
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailtrap_lite import compat_mailpit as shapes
from mailtrap_lite.compat_search import mailpit_query, time_zone
from mailtrap_lite.compat_send import outgoing
from mailtrap_lite.errors import BadRequest, NotFound
from mailtrap_lite.model import Page, to_json
from mailtrap_lite.search import Query
from mailtrap_lite.service import MailService
from mailtrap_lite.store.base import stream_of
from mailtrap_lite.web import access, api, compat_params, ingest_api
from mailtrap_lite.web.compat_params import ok, optional_json, start_limit, string_list
from mailtrap_lite.web.context import context
from mailtrap_lite.web.params import MAX_BODY_BYTES, json_object

PLAIN_TEXT = "text/plain; charset=utf-8"


def service(request: Request) -> MailService:
    return context(request).service


def search_param(request: Request) -> Query | None:
    """The ``query`` parameter (before it is confined, as every query here, to the mailboxes the user
    may see)."""
    text = request.query_params.get("query")
    if text is None:
        raise BadRequest("query is required (a Mailpit search, e.g. from:ann@example.com)")
    return mailpit_query(text, time_zone(request.query_params.get("tz")))


async def requested_id(request: Request) -> str:
    return await access.message_id(request, request.path_params["id"])


async def visible_ids(request: Request, asked: list[str]) -> list[str]:
    """The ids among ``asked`` that are stored where the user may see; as in Mailpit, the others are
    ignored."""
    mail, found = service(request), []
    for message_id in asked:
        try:
            found.append((await mail.summary(await access.message_id(request, message_id))).id)
        except NotFound:
            continue
    return found


async def tag_counts(request: Request) -> dict[str, int]:
    """Each tag of the messages the user may see, and how many carry it."""
    found = await service(request).tags(access.scoped(request, None))
    return {tag.name: tag.count for tag in found}


async def listing(request: Request, query: Query | None) -> Response:
    start, limit = start_limit(request)
    mail = service(request)
    found: Page = await mail.list_messages(query, limit, start)
    everything = await mail.list_messages(access.scoped(request, None), 1, 0)
    body = shapes.mailpit_list(
        total=everything.total,
        unread=everything.unread,
        matched=found.total,
        matched_unread=found.unread,
        start=start,
        tags=sorted(await tag_counts(request)),
        messages=found.messages,
    )
    return JSONResponse(to_json(body))


async def list_messages(request: Request) -> Response:
    return await listing(request, access.scoped(request, None))


async def search(request: Request) -> Response:
    return await listing(request, access.scoped(request, search_param(request)))


async def delete_search(request: Request) -> Response:
    query = search_param(request)
    if query is None:
        raise BadRequest("query has no search terms: to delete every message, use DELETE /api/v1/messages")
    await service(request).delete_matching(access.scoped(request, query))
    return ok()


async def set_read(request: Request) -> Response:
    body = await optional_json(request)
    read = body.get("Read", False)
    if not isinstance(read, bool):
        raise BadRequest("Read must be true or false")
    search_text = body.get("Search")
    if search_text is not None and not isinstance(search_text, str):
        raise BadRequest("Search must be a string")
    mail = service(request)
    ids = string_list(body, "IDs")
    if ids:
        await mail.mark_ids(await visible_ids(request, ids), read=read)
    else:
        query = mailpit_query(search_text, time_zone(request.query_params.get("tz")))
        await mail.mark_matching(access.scoped(request, query), read=read)
    return ok()


async def delete_messages(request: Request) -> Response:
    ids = string_list(await optional_json(request), "IDs")
    mail = service(request)
    if not ids:
        await mail.delete_matching(access.scoped(request, None))
    for message_id in await visible_ids(request, ids):
        try:
            await mail.delete(message_id)
        except NotFound:  # deleted meanwhile
            continue
    return ok()


async def get_message(request: Request) -> Response:
    """The message, which Mailpit marks read as it answers."""
    mail = service(request)
    message = await mail.message(await requested_id(request))
    if not message.summary.read:
        await mail.update(message.summary.id, read=True)
    return JSONResponse(to_json(shapes.mailpit_message(message)))


async def get_headers(request: Request) -> Response:
    message = await service(request).message(await requested_id(request))
    return JSONResponse(shapes.header_map(message.headers))


async def get_raw(request: Request) -> Response:
    _, stream = await service(request).raw_stream(await requested_id(request))
    return api.stream_response(stream, PLAIN_TEXT, api.UNTRUSTED_HEADERS)


async def view_text(request: Request) -> Response:
    message = await service(request).message(await requested_id(request))
    return api.stream_response(stream_of((message.text or "").encode()), PLAIN_TEXT, api.UNTRUSTED_HEADERS)


async def view_html(request: Request) -> Response:
    """Mailpit's HTML view is our sandboxed preview, reached by a redirect: the preview's part URLs are
    relative to its own URL (so that ``--base-path`` needs no rewrite), and so is this Location."""
    summary = await service(request).summary(await requested_id(request))
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"../api/messages/{quote(summary.id, safe='')}/html{query}", status_code=307)


async def get_tags(request: Request) -> Response:
    return JSONResponse(sorted(await tag_counts(request)))


async def set_tags(request: Request) -> Response:
    body = await optional_json(request)
    ids = string_list(body, "IDs")
    if not ids:
        raise BadRequest("IDs is required: the messages whose tags to set")
    tags = tuple(string_list(body, "Tags"))
    mail = service(request)
    for message_id in await visible_ids(request, ids):
        try:
            await mail.update(message_id, tags=tags)
        except NotFound:  # deleted meanwhile
            continue
    return ok()


async def rename_tag(request: Request) -> Response:
    """Rename a tag on every message the user may see that has it (404 when none has)."""
    name = (await optional_json(request)).get("Name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Name is required: the tag's new name")
    within = access.scoped(request, None)
    await service(request).rename_tag(request.path_params["tag"], name, within)
    return ok()


async def delete_tag(request: Request) -> Response:
    """Remove a tag from every message the user may see (404 when none has it)."""
    await service(request).delete_tag(request.path_params["tag"], access.scoped(request, None))
    return ok()


async def info(request: Request) -> Response:
    ctx = context(request)
    stats = await ctx.service.stats()
    visible = await ctx.service.list_messages(access.scoped(request, None), 1, 0)
    runtime = shapes.MailpitRuntimeStats(
        # Peak resident memory: the standard library has no portable reading of the current size.
        Memory=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        MessagesDeleted=0,
        SMTPAccepted=stats.received,
        SMTPAcceptedSize=stats.received_bytes,
        SMTPIgnored=0,
        SMTPRejected=stats.rejected,
        Uptime=stats.uptime_seconds,
    )
    body = shapes.MailpitInfo(
        Version=ctx.version,
        LatestVersion=ctx.version,
        Database=str(ctx.config.db or ""),
        DatabaseSize=stats.store.db_size or 0,
        Messages=visible.total,
        Unread=visible.unread,
        Tags=dict(sorted((await tag_counts(request)).items())),
        RuntimeStats=runtime,
    )
    return JSONResponse(to_json(body))


async def webui(request: Request) -> Response:
    config = context(request).config
    relay = shapes.MailpitRelay(
        Enabled=config.relay is not None,
        SMTPServer=str(config.relay or ""),
        # Ours are globs, not Mailpit's regular expressions: shown as given.
        AllowedRecipients=", ".join(config.relay_allow),
        BlockedRecipients=", ".join(config.relay_deny),
        ReturnPath=config.relay_return_path or "",
        OverrideFrom=config.relay_mail_from or "",
        PreserveMessageIDs=True,
    )
    body = shapes.MailpitWebUI("mailtrap-lite", relay, False, False, False, False)
    return JSONResponse(to_json(body))


async def release(request: Request) -> Response:
    """Mailpit's release: ``{"To": [...]}`` through ``--relay`` (without To: the envelope recipients)."""
    body = await optional_json(request)
    await compat_params.release(request, body.get("To"))
    return ok()


async def send(request: Request) -> Response:
    """A message given as JSON, stored as if it came over SMTP (as ``POST /api/messages`` stores one)."""
    ctx = context(request)
    limit = ctx.config.max_message_size
    # Attachments come base64-encoded: a third larger than the message they make.
    message = outgoing(await json_object(request, limit * 4 // 3 + MAX_BODY_BYTES), ctx.config.hostname)
    if len(message.raw) > limit:
        raise ingest_api.TooLarge(limit)
    if len(message.recipients) > ctx.config.max_recipients:
        raise BadRequest(
            f"too many recipients: {len(message.recipients)} (--max-recipients {ctx.config.max_recipients})"
        )
    client = request.client
    peer = f"{client.host}:{client.port}" if client is not None else "unknown"
    summary = await ctx.service.submit(
        message.raw,
        message.mail_from,
        message.recipients,
        peer=peer,
        via="POST /api/v1/send",
        mailboxes=access.allowed(request),
    )
    if message.tags:
        await ctx.service.update(summary.id, tags=message.tags)
    return JSONResponse(to_json(shapes.MailpitSendConfirmation(summary.id)))


routes = [
    Route("/api/v1/messages", list_messages, methods=["GET"]),
    Route("/api/v1/messages", set_read, methods=["PUT"]),
    Route("/api/v1/messages", delete_messages, methods=["DELETE"]),
    Route("/api/v1/search", search, methods=["GET"]),
    Route("/api/v1/search", delete_search, methods=["DELETE"]),
    Route("/api/v1/message/{id}", get_message, methods=["GET"]),
    Route("/api/v1/message/{id}/headers", get_headers, methods=["GET"]),
    Route("/api/v1/message/{id}/raw", get_raw, methods=["GET"]),
    Route("/api/v1/message/{id}/part/{part_id}", api.get_part, methods=["GET"]),
    Route("/api/v1/message/{id}/release", release, methods=["POST"]),
    Route("/api/v1/send", send, methods=["POST"]),
    Route("/api/v1/tags", get_tags, methods=["GET"]),
    Route("/api/v1/tags", set_tags, methods=["PUT"]),
    Route("/api/v1/tags/{tag}", rename_tag, methods=["PUT"]),
    Route("/api/v1/tags/{tag}", delete_tag, methods=["DELETE"]),
    Route("/api/v1/info", info, methods=["GET"]),
    Route("/api/v1/webui", webui, methods=["GET"]),
    Route("/view/{id}.html", view_html, methods=["GET"]),
    Route("/view/{id}.txt", view_text, methods=["GET"]),
    Route("/view/{id}.raw", get_raw, methods=["GET"]),
]
