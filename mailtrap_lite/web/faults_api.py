"""``/api/faults``: list, add and remove fault rules (DESIGN §5) while the server runs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite.errors import NotFound
from mailtrap_lite.faults import FaultEngine, FaultRule, FaultState, rule_arguments
from mailtrap_lite.model import to_json
from mailtrap_lite.web.context import context
from mailtrap_lite.web.params import json_object


def engine(request: Request) -> FaultEngine:
    return context(request).faults


def rule_json(rule: FaultRule, remaining: int | None, fired: int) -> dict[str, Any]:
    data: dict[str, Any] = to_json(rule)
    data.update(reply=rule.reply or None, remaining=remaining, fired=fired)
    return data


def state_json(state: FaultState) -> dict[str, Any]:
    return rule_json(state.rule, state.remaining, state.fired)


async def list_faults(request: Request) -> Response:
    return JSONResponse({"faults": [state_json(state) for state in engine(request).states()]})


async def add_fault(request: Request) -> Response:
    rule = engine(request).add(**rule_arguments(await json_object(request)))
    return JSONResponse(rule_json(rule, rule.times, 0), status_code=201)


async def delete_fault(request: Request) -> Response:
    rule_id = request.path_params["id"]
    if not engine(request).remove(rule_id):
        raise NotFound(f"no fault rule {rule_id!r}")
    return Response(status_code=204)


async def delete_faults(request: Request) -> Response:
    faults = engine(request)
    removed = len(faults.rules())
    faults.clear()
    return JSONResponse({"deleted": removed})


routes = [
    Route("/api/faults", list_faults, methods=["GET"]),
    Route("/api/faults", add_fault, methods=["POST"]),
    Route("/api/faults", delete_faults, methods=["DELETE"]),
    Route("/api/faults/{id}", delete_fault, methods=["DELETE"]),
]
