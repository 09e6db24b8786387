"""The Starlette application: routes, the one place where errors become HTTP responses, auth, static UI."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mailtrap_lite.errors import BadRequest, NotFound, StoreUnavailable
from mailtrap_lite.web import (
    access,
    api,
    compat_mailhog,
    compat_mailpit,
    faults_api,
    ingest_api,
    mailboxes_api,
    openapi,
    preview,
    relay_api,
    tags_api,
    webhooks_api,
    ws,
)
from mailtrap_lite.web.context import WebContext, context
from mailtrap_lite.web.guard import Guard, Policy
from mailtrap_lite.web.metrics import metrics
from mailtrap_lite.web.ui import UIFiles, static_dir

log = logging.getLogger("mailtrap_lite.web")


async def livez(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    readiness = await context(request).service.ready()
    if not readiness.ready:
        return JSONResponse(
            {"status": "not ready", "error": f"the store cannot take messages: {readiness.reason}"}, 503
        )
    return JSONResponse({"status": "ready"})


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi.document(context(request).version))


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, str(exc))


async def bad_request(request: Request, exc: Exception) -> Response:
    return error(400, str(exc))


async def store_unavailable(request: Request, exc: Exception) -> Response:
    return error(503, str(exc))


async def websocket_only(request: Request) -> Response:
    return error(426, f"{request.url.path} is a websocket: connect with ws:// or wss://")


def allowed_methods(request: Request) -> str:
    """The methods of the path template this URL routes to (one template is often split over routes)."""
    routes = [route for route in request.app.routes if isinstance(route, Route) and route.methods]
    template = next((r.path for r in routes if r.path_regex.fullmatch(request.url.path)), None)
    return ", ".join(sorted({m for r in routes if r.path == template for m in r.methods or ()}))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: f"no such path: {request.url.path}", 405: f"method {request.method} not allowed here"}
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status == 405:
        allowed = allowed_methods(request)
        if allowed:
            headers["Allow"] = allowed
        elif request.url.path.startswith("/api/"):
            # Only the UI's files answered (with their own Allow): no API route has this path, whatever
            # the method.
            status = 404
            headers.pop("Allow", None)
    return JSONResponse(
        {"error": message.get(status, str(exc.detail))},
        status_code=status,
        headers=headers,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, f"internal error: {type(exc).__name__}")


class BasicAuth:
    """HTTP basic auth over every route and the websocket (``--ui-auth``), compared in constant time; the
    user let in is recorded in the scope (``access.USER_KEY``) for ``--mailbox-access``.

    The health checks stay open: a container's HEALTHCHECK or a load balancer has no credentials, and they
    tell nothing about the mail.
    """

    OPEN_PATHS = frozenset({"/livez", "/readyz"})

    def __init__(self, app: ASGIApp, users: dict[str, bytes]) -> None:
        self.app = app
        self.users = users

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (
            scope["type"] == "http" and scope["path"] in self.OPEN_PATHS
        ):
            await self.app(scope, receive, send)
            return
        user = self._authorised(HTTPConnection(scope))
        if user is not None:
            await self.app({**scope, access.USER_KEY: user}, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "authentication required"})
            return
        response = JSONResponse(
            {"error": "authentication required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="mailtrap-lite", charset="UTF-8"'},
        )
        await response(scope, receive, send)

    def _authorised(self, connection: HTTPConnection) -> str | None:
        scheme, _, encoded = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        name, _, password = given.partition(b":")
        user = name.decode(errors="replace")
        expected = self.users.get(user)
        # Compared even for an unknown user, so that the time taken does not tell which users exist.
        matched = hmac.compare_digest(password, expected if expected is not None else b"\0" * 16)
        return user if matched and expected is not None else None


def create_app(ctx: WebContext) -> Starlette:
    # The guard comes first: a forged or rebound request is refused whether or not it carries credentials.
    middleware = [Middleware(Guard, policy=Policy.from_config(ctx.config))]
    if ctx.config.cors_origin:
        # Before basic auth: a browser sends its preflight without credentials.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(ctx.config.cors_origin),
                allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type"],
                allow_credentials=True,
                max_age=600,
            )
        )
    users = access.ui_users(ctx.config)
    if users is not None:
        middleware.append(Middleware(BasicAuth, users=users))
    routes = [
        *api.routes,
        *ingest_api.routes,
        *mailboxes_api.routes,
        *tags_api.routes,
        *preview.routes,
        *ws.routes,
        Route("/api/ws", websocket_only, methods=["GET"]),
        *faults_api.routes,
        *relay_api.routes,
        *webhooks_api.routes,
        # Mailpit's and MailHog's APIs, for their clients and test helpers.
        *compat_mailpit.routes,
        *compat_mailhog.routes,
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Mount("/", app=UIFiles(static_dir()), name="ui"),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            NotFound: not_found,
            BadRequest: bad_request,
            StoreUnavailable: store_unavailable,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    app.state.mailtrap = ctx
    return app
