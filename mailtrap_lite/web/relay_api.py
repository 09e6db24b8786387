"""``/api/messages/{id}/release`` and ``/api/relay/queue``: forward captured mail to a real mail server."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite import wire
from mailtrap_lite.errors import NotFound, RelayRefused
from mailtrap_lite.model import RelayItem
from mailtrap_lite.relay.relayer import Relayer
from mailtrap_lite.web import access
from mailtrap_lite.web.context import context
from mailtrap_lite.web.params import json_object

NO_RELAY = "no relay is configured: start the server with --relay HOST:PORT or --relay mx"


def relayer(request: Request) -> Relayer:
    found = context(request).relay
    if found is None:
        raise HTTPException(409, NO_RELAY)
    return found


async def release(request: Request) -> Response:
    relay = relayer(request)
    body = await json_object(request) if await _has_body(request) else {}
    message_id = await access.message_id(request, request.path_params["id"])
    try:
        record = await relay.release(message_id, body.get("to"))
    except RelayRefused as refused:
        raise HTTPException(403, str(refused)) from None
    # The next hop refused it or could not be reached: a bad gateway, with what it said.
    return JSONResponse(wire.record_json(record), status_code=200 if record.result == "sent" else 502)


async def _has_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers


async def visible_items(request: Request) -> list[RelayItem]:
    """The queue, less the items of messages in mailboxes this user may not see (--mailbox-access)."""
    items = await relayer(request).queue.store.relay_items()
    if access.allowed(request) is None:
        return items
    visible = []
    for item in items:
        try:
            await access.message_id(request, item.message_id)
            visible.append(item)
        except NotFound:
            continue
    return visible


async def visible_item(request: Request) -> str:
    item_id: str = request.path_params["id"]
    if not any(item.id == item_id for item in await visible_items(request)):
        raise NotFound(f"no queued relay {item_id!r}")
    return item_id


async def queue(request: Request) -> Response:
    return JSONResponse(wire.record_json(wire.RelayQueue(tuple(await visible_items(request)))))


async def retry(request: Request) -> Response:
    item = await relayer(request).queue.retry(await visible_item(request))
    if item is None:
        raise NotFound(f"no queued relay {request.path_params['id']!r}")
    return JSONResponse(wire.record_json(item))


async def drop(request: Request) -> Response:
    if not await relayer(request).queue.drop(await visible_item(request)):
        raise NotFound(f"no queued relay {request.path_params['id']!r}")
    return Response(status_code=204)


routes = [
    Route("/api/messages/{id}/release", release, methods=["POST"]),
    Route("/api/relay/queue", queue, methods=["GET"]),
    Route("/api/relay/queue/{id}/retry", retry, methods=["POST"]),
    Route("/api/relay/queue/{id}", drop, methods=["DELETE"]),
]
