"""Validation of HTTP input: every problem is a BadRequest, which the app turns into a 400."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.search import Query, parse_query, with_mailbox
from mailtrap_lite.web.guard import is_json

MAX_PAGE = 1000
MAX_OFFSET = 2**31
# The API's bodies are small objects (a fault rule, read/tags); anything bigger is a mistake or an attack.
MAX_BODY_BYTES = 64 * 1024
N = TypeVar("N", int, float)


def _number_param(request: Request, name: str, default: N, *, low: N, high: N, kind: type[N], noun: str) -> N:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise BadRequest(f"{name} must be {noun}, got {text!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    return _number_param(request, name, default, low=low, high=high, kind=int, noun="a whole number")


def float_param(request: Request, name: str, default: float, *, low: float, high: float) -> float:
    return _number_param(request, name, default, low=low, high=high, kind=float, noun="a number")


def paging(request: Request) -> tuple[int, int]:
    return (
        int_param(request, "limit", 50, low=1, high=MAX_PAGE),
        int_param(request, "offset", 0, low=0, high=MAX_OFFSET),
    )


def query_param(request: Request) -> Query | None:
    query = parse_query(request.query_params.get("q"))
    return with_mailbox(query if query else None, request.query_params.get("mailbox") or None)


async def json_object(
    request: Request, max_bytes: int = MAX_BODY_BYTES, *, untyped: bool = False
) -> dict[str, Any]:
    """The body's JSON object; with ``untyped``, a body sent without any Content-Type is read as JSON too
    (for a client that sends none; the Origin check still keeps other sites' pages out)."""
    untyped_body = untyped and "content-type" not in request.headers
    if not untyped_body and not is_json(request.headers.get("content-type")):
        given = request.headers.get("content-type") or "none"
        raise HTTPException(415, f"send the body as Content-Type: application/json (got {given})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BadRequest(f"the body is larger than {max_bytes} bytes")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequest("the body is not valid JSON: nested too deeply") from None
    try:
        # JSON may escape a lone surrogate ("\ud800"), which is no text: stored, it would fail every
        # later response that shows it.
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest("the body is not valid JSON: it holds a lone surrogate (\\ud800-\\udfff)") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data
