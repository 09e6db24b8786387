"""GET /api/messages/{id}/html: the HTML body for the UI's sandboxed preview frame."""

from __future__ import annotations

import asyncio
from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailtrap_lite import html_preview
from mailtrap_lite.errors import BadRequest, NotFound
from mailtrap_lite.web.context import context


def _allow_remote(request: Request) -> bool:
    value = request.query_params.get("remote", "0")
    if value not in ("0", "1"):
        raise BadRequest(f"remote must be 0 or 1, got {value!r}")
    return value == "1"


async def get_html(request: Request) -> Response:
    allow_remote = _allow_remote(request)
    mail = context(request).service
    message = await mail.message(request.path_params["id"])
    if message.html is None:
        raise NotFound(f"message {message.summary.id!r} has no HTML body")
    cids = html_preview.content_ids(message.parts)

    def render() -> html_preview.Preview:
        assert message.html is not None
        return html_preview.render(
            message.html, message_id=message.summary.id, cids=cids, allow_remote=allow_remote
        )

    async def load() -> tuple[object, int]:
        # A large body still takes a while to rewrite: render off the event loop that also serves SMTP, once.
        rendered = await asyncio.to_thread(render)
        return rendered, len(rendered.html)

    what = ("html", allow_remote)
    preview = cast(html_preview.Preview, await mail.read_cache.get(message.summary.id, what, load))
    headers = {
        "Content-Security-Policy": html_preview.content_security_policy(allow_remote=allow_remote),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Hostnames in links would otherwise be resolved ahead of a click, telling the sender's DNS.
        "X-DNS-Prefetch-Control": "off",
        "Cache-Control": "no-store",
        "X-Blocked-Remote": str(preview.blocked),
        "X-Remote-Content": str(preview.remote),
    }
    return Response(preview.html, media_type="text/html; charset=utf-8", headers=headers)


routes = [Route("/api/messages/{id}/html", get_html, methods=["GET"])]
