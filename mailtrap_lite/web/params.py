"""Validation of HTTP input: every problem is a BadRequest, which the app turns into a 400."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.search import Query, parse_query, with_mailbox

MAX_PAGE = 1000


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def float_param(request: Request, name: str, default: float, *, low: float, high: float) -> float:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {text!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def paging(request: Request) -> tuple[int, int]:
    return (
        int_param(request, "limit", 50, low=1, high=MAX_PAGE),
        int_param(request, "offset", 0, low=0, high=2**31),
    )


def query_param(request: Request) -> Query | None:
    query = parse_query(request.query_params.get("q"))
    return with_mailbox(query if query else None, request.query_params.get("mailbox") or None)


async def json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data
