"""``/api/faults``: list, add and remove fault rules while the server runs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailtrap_lite import wire
from mailtrap_lite.errors import NotFound
from mailtrap_lite.faults import FaultEngine, rule_arguments
from mailtrap_lite.web.context import context
from mailtrap_lite.web.params import json_object


def engine(request: Request) -> FaultEngine:
    return context(request).faults


async def list_faults(request: Request) -> Response:
    return JSONResponse(wire.fault_list_json(await engine(request).current_states()))


async def add_fault(request: Request) -> Response:
    rule = await engine(request).put(**rule_arguments(await json_object(request)))
    return JSONResponse(wire.fault_json(rule, rule.times, 0), status_code=201)


async def delete_fault(request: Request) -> Response:
    rule_id = request.path_params["id"]
    if not await engine(request).drop(rule_id):
        raise NotFound(f"no fault rule {rule_id!r}")
    return Response(status_code=204)


async def delete_faults(request: Request) -> Response:
    removed = await engine(request).drop_all()
    return JSONResponse(wire.record_json(wire.FaultsDeleted(removed)))


routes = [
    Route("/api/faults", list_faults, methods=["GET"]),
    Route("/api/faults", add_fault, methods=["POST"]),
    Route("/api/faults", delete_faults, methods=["DELETE"]),
    Route("/api/faults/{id}", delete_fault, methods=["DELETE"]),
]
