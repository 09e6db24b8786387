"""``/api/webhooks``: the configured webhooks and their latest deliveries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite import wire
from mailtrap_lite.web.context import context
from mailtrap_lite.webhooks import WebhookStatus


async def get_webhooks(request: Request) -> Response:
    dispatcher = context(request).webhooks
    status = dispatcher.status() if dispatcher is not None else WebhookStatus((), None, 0, ())
    return JSONResponse(wire.record_json(status))


routes = [Route("/api/webhooks", get_webhooks, methods=["GET"])]
