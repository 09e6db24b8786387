"""What the Mailpit- and MailHog-compatible routes read and answer alike: paging by ``start``/``limit``, a
JSON body that may be absent, the plain ``ok``, and a release."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from mailtrap_lite.errors import BadRequest, RelayRefused
from mailtrap_lite.model import Release
from mailtrap_lite.web import access, relay_api
from mailtrap_lite.web.params import MAX_OFFSET, MAX_PAGE, int_param, json_object

DEFAULT_LIMIT = 50


def start_limit(request: Request) -> tuple[int, int]:
    return (
        int_param(request, "start", 0, low=0, high=MAX_OFFSET),
        int_param(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_PAGE),
    )


async def optional_json(request: Request, *, untyped: bool = False) -> dict[str, Any]:
    """The JSON object in the body, or ``{}`` when the request has no body (Mailpit's clients send none
    to mean "all messages"); ``untyped`` as for ``json_object``."""
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
        return {}
    return await json_object(request, untyped=untyped)


def string_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"{name} must be a list of strings")
    return value


def ok() -> Response:
    return PlainTextResponse("ok")


async def release(request: Request, to: object) -> Release:
    """Release the message ``{id}`` through ``--relay`` to ``to`` (None: its envelope recipients), as
    ``POST /api/messages/{id}/release`` does; anything but a 250 from the next hop is an error here,
    since neither product's answer can carry the release record: 409 without a relay, 403 for recipients
    the relay lists refuse, 502 when the next hop refused or could not be reached."""
    relay = relay_api.relayer(request)
    message_id = await access.message_id(request, request.path_params["id"])
    try:
        record = await relay.release(message_id, to)
    except RelayRefused as refused:
        raise HTTPException(403, str(refused)) from None
    if record.result != "sent":
        said = f"{record.code}" if record.code is not None else "no reply"
        raise HTTPException(502, f"{record.relay} did not take the message ({said}): {record.error or ''}")
    return record
