"""``--base-path``: the whole web side (UI, API, websocket, health checks) served under a path prefix, for
a reverse proxy that forwards ``/mail/`` unchanged. The UI uses relative URLs, so it follows."""

from __future__ import annotations

from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class PathPrefix:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix  # "/mail": no trailing slash

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self.prefix + "/"):
            inner = dict(scope)
            inner["path"] = path[len(self.prefix) :]
            raw_path = scope.get("raw_path")
            if raw_path is not None:
                inner["raw_path"] = raw_path[len(self.prefix.encode()) :]
            await self.app(inner, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "not under the base path"})
            return
        if path == self.prefix:
            # Relative URLs resolve against the directory: the page must be at /mail/, not /mail.
            query = scope.get("query_string", b"").decode("latin-1")
            target = self.prefix + "/" + (f"?{query}" if query else "")
            await RedirectResponse(target, status_code=308)(scope, receive, send)
            return
        message = f"no such path: {path} (this server is under --base-path {self.prefix}/)"
        await JSONResponse({"error": message}, status_code=404)(scope, receive, send)


def under_prefix(app: ASGIApp, prefix: str) -> ASGIApp:
    return PathPrefix(app, prefix) if prefix else app
