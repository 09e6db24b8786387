"""What the Mailpit- and MailHog-compatible routes read and answer alike: paging by ``start``/``limit``, a
JSON body that may be absent, the plain ``ok``, and the refusal of a feature this server lacks."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.web.params import MAX_OFFSET, MAX_PAGE, int_param, json_object

DEFAULT_LIMIT = 50


def start_limit(request: Request) -> tuple[int, int]:
    return (
        int_param(request, "start", 0, low=0, high=MAX_OFFSET),
        int_param(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_PAGE),
    )


async def optional_json(request: Request) -> dict[str, Any]:
    """The JSON object in the body, or ``{}`` when the request has no body (Mailpit's clients send none
    to mean "all messages")."""
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
        return {}
    return await json_object(request)


def string_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"{name} must be a list of strings")
    return value


def ok() -> Response:
    return PlainTextResponse("ok")


def unavailable(feature: str) -> Response:
    return JSONResponse({"error": f"{feature} is not available in this build of mailtrap-lite"}, 501)
