"""GET /api/messages/{id}/html: the HTML body for the UI's sandboxed preview frame."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailtrap_lite import html_preview
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.web import access
from mailtrap_lite.web.context import context


def _allow_remote(request: Request) -> bool:
    value = request.query_params.get("remote", "0")
    if value not in ("0", "1"):
        raise BadRequest(f"remote must be 0 or 1, got {value!r}")
    return value == "1"


async def get_html(request: Request) -> Response:
    allow_remote = _allow_remote(request)
    asked = await access.message_id(request, request.path_params["id"])
    preview = await context(request).service.html_preview(asked, allow_remote=allow_remote)
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
