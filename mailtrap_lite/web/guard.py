"""Who may talk to the web side: a Host allow-list against DNS rebinding, an Origin check against
cross-site request forgery, and JSON bodies only as ``application/json``.

Any page the developer opens can send requests to the catcher's port. The policy is plain functions over
header values; ``Guard`` applies it to every HTTP request and websocket handshake before anything else.

- **Host.** A page of ``rebind.attacker.example``, whose name the attacker re-points at 127.0.0.1, is
  same-origin with the server in the browser's eyes but still sends ``Host: rebind.attacker.example``.
  Allowed: IP addresses (a rebinding needs a name the attacker controls; an address names no one else),
  ``localhost`` and ``*.localhost`` (browsers resolve them to loopback themselves), the ``--http`` host,
  this machine's name, and ``--trusted-host`` and ``--trusted-origin`` names.
- **Origin**, on POST, PUT, PATCH, DELETE and the websocket handshake: the server's own origin or a
  ``--trusted-origin``. Browsers send Origin with every such request; a request without one is from a
  program (curl, httpx, the pytest plugin) unless ``Sec-Fetch-Site``, which only browsers send, says
  it came from another origin.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mailtrap_lite.config import parse_host_name, parse_origin
from mailtrap_lite.errors import ConfigError

if TYPE_CHECKING:
    from mailtrap_lite.config import Config

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# RFC 9110 §15.5.20: the request reached a server that does not answer for that name.
MISDIRECTED = 421
WEBSOCKET_REFUSED = "cross-origin websocket refused"


@dataclass(frozen=True, slots=True)
class Policy:
    hosts: frozenset[str] = frozenset()  # names allowed besides IP addresses and loopback names
    origins: frozenset[str] = frozenset()  # origins allowed besides the server's own

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        """Raises ConfigError for a trusted host or origin that is not one (a Config built in code)."""
        # A --cors-origin page may change state through the API too: that is what it is trusted with.
        origins = frozenset(parse_origin(origin) for origin in (*config.trusted_origin, *config.cors_origin))
        names = {parse_host_name(name) for name in config.trusted_host}
        names.update(host for origin in origins if (host := host_of(urlsplit(origin).netloc)))
        for name in (config.http.host, socket.gethostname()):
            # A machine name that no Host header could carry is left out.
            with contextlib.suppress(ConfigError):
                names.add(parse_host_name(name))
        return cls(frozenset(names), origins)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error: str


def host_of(header: str) -> str | None:
    """The normalised host of a Host header (``host[:port]``), or None when it is not one."""
    try:
        parts = urlsplit("//" + header)
        _ = parts.port  # raises ValueError on a bad port
        if parts.username is not None or parts.path or parts.query or parts.fragment:
            return None
        return parse_host_name(parts.hostname or "")
    except (ValueError, ConfigError):
        return None


def host_allowed(policy: Policy, host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return host == "localhost" or host.endswith(".localhost") or host in policy.hosts


def own_origin(scheme: str, host_header: str) -> str | None:
    """The origin a browser gives a page that this request (or handshake) reached."""
    web_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    try:
        return parse_origin(f"{web_scheme}://{host_header}")
    except ConfigError:
        return None


def origin_allowed(policy: Policy, origin: str, own: str | None) -> bool:
    try:
        normalised = parse_origin(origin)
    except ConfigError:
        return False  # "null" (a sandboxed frame, a file: page) or garbage
    return normalised in policy.origins or (own is not None and normalised == own)


def refusal(policy: Policy, scheme: str, method: str | None, headers: Mapping[str, str]) -> Refusal | None:
    """Why this request must be refused, or None. ``method`` is None for a websocket handshake; header
    names are lower case."""
    host_header = headers.get("host")
    if host_header is not None:
        host = host_of(host_header)
        if host is None or not host_allowed(policy, host):
            return Refusal(
                MISDIRECTED,
                f"unknown host {host_header!r}: mailtrap-lite answers only to loopback names, IP addresses "
                "and this machine's name, against DNS rebinding; allow another name with --trusted-host "
                "(or MAILTRAP_LITE_TRUSTED_HOST)",
            )
    if method is not None and method not in UNSAFE_METHODS:
        return None
    cross_origin = WEBSOCKET_REFUSED if method is None else "cross-origin request refused"
    origin = headers.get("origin")
    if origin is None:
        site = headers.get("sec-fetch-site")
        if site is None or site == "same-origin":
            return None
        return Refusal(403, f"{cross_origin}: a browser sent it from another origin (Sec-Fetch-Site: {site})")
    if origin_allowed(policy, origin, None if host_header is None else own_origin(scheme, host_header)):
        return None
    if method is None:
        return Refusal(403, cross_origin)
    return Refusal(
        403,
        f"{cross_origin}: Origin {origin!r} is not this server's own; a page served through a proxy "
        "needs --trusted-origin (or MAILTRAP_LITE_TRUSTED_ORIGIN)",
    )


def is_json(content_type: str | None) -> bool:
    """``application/json`` or a ``+json`` type: what no cross-origin page can send without asking first
    (a CORS preflight, which this server grants only to a --cors-origin)."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class Guard:
    """Applies ``refusal`` to every HTTP request and websocket handshake."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["type"] == "http" else None
        refused = refusal(self.policy, scope["scheme"], method, Headers(scope=scope))
        if refused is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"error": refused.error}, status_code=refused.status)
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
            # RFC 6455 §7.4.1: 1008, policy violation, where the server cannot answer the handshake.
            reason = refused.error.encode()[:123].decode(errors="ignore")  # a close reason's limit
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        await response(scope, receive, send)
