"""Tags across messages: ``/api/tags`` (list with counts, rename, delete) and ``POST /api/messages/tags``
(add and remove tags on every message a query matches). A user that ``--mailbox-access`` confines sees
and changes the tags of its mailboxes' messages only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite import wire
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.search import parse_query
from mailtrap_lite.web import access
from mailtrap_lite.web.context import context
from mailtrap_lite.web.params import json_object, query_param


async def list_tags(request: Request) -> Response:
    found = await context(request).service.tags(access.scoped(request, query_param(request)))
    return JSONResponse(wire.record_json(wire.TagList(tuple(found))))


async def rename_tag(request: Request) -> Response:
    body = _fields(await json_object(request), required=frozenset({"name"}))
    name = body["name"]
    if not isinstance(name, str):
        raise BadRequest("name must be a string: the tag's new name")
    within = access.scoped(request, None)
    changed = await context(request).service.rename_tag(request.path_params["tag"], name, within)
    return _retagged(changed)


async def delete_tag(request: Request) -> Response:
    within = access.scoped(request, None)
    return _retagged(await context(request).service.delete_tag(request.path_params["tag"], within))


async def retag_messages(request: Request) -> Response:
    body = _fields(
        await json_object(request), required=frozenset({"query"}), optional=frozenset({"add", "remove"})
    )
    text = body["query"]
    if text is not None and not isinstance(text, str):
        raise BadRequest('query must be a search query ("" or null for every message)')
    add, remove = _tag_list(body, "add"), _tag_list(body, "remove")
    if not add and not remove:
        raise BadRequest("give tags to add, to remove, or both")
    query = access.scoped(request, parse_query(text) or None)
    changed = await context(request).service.retag(query, add=add, remove=remove)
    return _retagged(changed)


def _fields(
    body: dict[str, Any], *, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    allowed = required | optional
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(
            f"unknown fields: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
        )
    missing = required - set(body)
    if missing:
        raise BadRequest(f"missing fields: {', '.join(sorted(missing))}")
    return body


def _tag_list(body: dict[str, Any], name: str) -> list[str]:
    tags = body.get(name) or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise BadRequest(f"{name} must be a list of strings")
    return tags


def _retagged(changed: list[str]) -> Response:
    return JSONResponse(wire.record_json(wire.Retagged(len(changed), tuple(changed))))


routes = [
    Route("/api/tags", list_tags, methods=["GET"]),
    Route("/api/tags/{tag:path}", rename_tag, methods=["PUT"]),
    Route("/api/tags/{tag:path}", delete_tag, methods=["DELETE"]),
    Route("/api/messages/tags", retag_messages, methods=["POST"]),
]
