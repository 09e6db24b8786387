"""MailHog's API (``/api/v2/messages``, ``/api/v2/search`` and the ``/api/v1/messages/{id}`` routes) over
the MailService, answering in MailHog's shape (``compat_mailhog``). ``GET`` and ``DELETE
/api/v1/messages`` are Mailpit's (web/compat_mailpit.py): where the two products share a path, Mailpit's
answer is given, and MailHog's clients read lists through ``/api/v2``."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite.compat_mailhog import MailhogList, MailhogMessage, mailhog_message
from mailtrap_lite.compat_search import mailhog_query
from mailtrap_lite.errors import BadRequest, NotFound
from mailtrap_lite.model import MessageSummary, to_json
from mailtrap_lite.search import Query
from mailtrap_lite.service import MailService
from mailtrap_lite.web import access, api, compat_params, relay_api
from mailtrap_lite.web.compat_params import optional_json, start_limit
from mailtrap_lite.web.context import context


def service(request: Request) -> MailService:
    return context(request).service


class _Helos:
    """The HELO name of each message's session, each session read once per request: one connection may
    have delivered thousands of messages, and its stored session holds all of their transcript."""

    def __init__(self, mail: MailService) -> None:
        self.mail = mail
        self.found: dict[str, str] = {}

    async def of(self, summary: MessageSummary) -> str:
        if summary.session_id not in self.found:
            try:
                self.found[summary.session_id] = (await self.mail.session(summary.session_id)).helo or ""
            except NotFound:  # the session was pruned before its message
                self.found[summary.session_id] = ""
        return self.found[summary.session_id]


async def _message(helos: _Helos, summary: MessageSummary) -> MailhogMessage:
    _, raw = await helos.mail.raw(summary.id)
    helo = await helos.of(summary)
    # Splitting a large message is CPU work that must not hold the event loop.
    return await asyncio.to_thread(mailhog_message, summary, raw, helo)


async def listing(request: Request, query: Query | None) -> Response:
    start, limit = start_limit(request)
    mail = service(request)
    page = await mail.list_messages(query, limit, start)
    helos = _Helos(mail)
    items = tuple([await _message(helos, summary) for summary in page.messages])
    return JSONResponse(to_json(MailhogList(page.total, len(items), start, items)))


async def list_messages(request: Request) -> Response:
    return await listing(request, access.scoped(request, None))


async def search(request: Request) -> Response:
    params = request.query_params
    query = mailhog_query(params.get("kind", "containing"), params.get("query", ""))
    return await listing(request, access.scoped(request, query))


async def get_message(request: Request) -> Response:
    mail = service(request)
    summary = await mail.summary(await access.message_id(request, request.path_params["id"]))
    return JSONResponse(to_json(await _message(_Helos(mail), summary)))


async def delete_message(request: Request) -> Response:
    await service(request).delete(await access.message_id(request, request.path_params["id"]))
    return Response(status_code=200)


async def release(request: Request) -> Response:
    """MailHog's release: ``{"Host", "Port", "Email"}``. MailHog sends to whatever server the request
    names; here a release goes only through ``--relay``, so a Host and Port that are not the relay's are
    refused rather than silently sent elsewhere."""
    target = relay_api.relayer(request).target
    body = await optional_json(request, untyped=True)  # MailHog's npm client sends no Content-Type
    email, host, port = body.get("Email"), body.get("Host") or "", str(body.get("Port") or "")
    if not isinstance(email, str) or not isinstance(host, str):
        raise BadRequest("Email (the recipient) and Host must be strings")
    if host and (host.lower() != (target.host or "").lower() or (port and port != str(target.port))):
        raise BadRequest(
            f"this server releases only through --relay {target}, not {host}:{port or '25'}: "
            "leave Host out, or name the relay"
        )
    await compat_params.release(request, [email])
    return Response(status_code=200)


routes = [
    Route("/api/v2/messages", list_messages, methods=["GET"]),
    Route("/api/v2/search", search, methods=["GET"]),
    Route("/api/v1/messages/{id}", get_message, methods=["GET"]),
    Route("/api/v1/messages/{id}", delete_message, methods=["DELETE"]),
    Route("/api/v1/messages/{id}/download", api.get_raw, methods=["GET"]),
    Route("/api/v1/messages/{id}/release", release, methods=["POST"]),
]
