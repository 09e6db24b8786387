"""The in-process server for the pytest plugin: configured like the CLI, run on a background thread.

``LocalBackend`` answers the ``Backend`` protocol by running the same service calls and JSON encoders
(``mailtrap_lite.wire``) as the HTTP routes on the server's loop, so an in-process test sees exactly what
a remote one would.
This module imports the whole server: the plugin loads it only when a fixture needs a server.
"""

from __future__ import annotations

import inspect
import shlex
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeVar

from mailtrap_lite.app import MailServer
from mailtrap_lite.cli import build_parser
from mailtrap_lite.client import APIError
from mailtrap_lite.config import Config, HostPort, build_config, validate
from mailtrap_lite.errors import BadRequest, ConfigError, NotFound, RelayRefused
from mailtrap_lite.search import parse_query
from mailtrap_lite.web.relay_api import NO_RELAY
from mailtrap_lite.wire import (
    fault_json,
    message_json,
    message_list_json,
    record_json,
    session_json,
    session_list_json,
)

T = TypeVar("T")
FREE_PORT = HostPort("127.0.0.1", 0)
CALL_TIMEOUT = 30.0
RELEASE_TIMEOUT = 300.0  # a next hop may take minutes to answer (RFC 5321 §4.5.3.2)


def _refuse(message: str) -> NoReturn:
    raise ConfigError(message)


def server_config(args: str = "", changes: Mapping[str, Any] | None = None) -> Config:
    """A Config from CLI-style ``args`` (the ``mailtrap_args`` option) and field ``changes`` (a marker).

    Listeners default to free ports on 127.0.0.1; MAILTRAP_LITE_* variables are ignored, since they
    usually describe a shared server (e.g. in a container), not this one.
    """
    parser = build_parser()
    parser.error = _refuse  # type: ignore[method-assign]
    values, unknown = parser.parse_known_args(shlex.split(args))
    if unknown:
        raise ConfigError(f"unknown server option(s): {' '.join(unknown)}")
    config = build_config(vars(values), environ={})
    defaults: dict[str, Any] = {"quiet": True}
    if values.smtp is None:
        defaults["smtp"] = FREE_PORT
    if values.http is None:
        defaults["http"] = FREE_PORT
    changes = dict(changes or {})
    unknown_fields = sorted(set(changes) - set(Config.__dataclass_fields__))
    if unknown_fields:
        raise ConfigError(
            f"unknown server option(s) {', '.join(unknown_fields)}; "
            f"known: {', '.join(sorted(Config.__dataclass_fields__))}"
        )
    try:
        return validate(config.replace(**defaults, **changes))
    except TypeError as error:
        raise ConfigError(str(error)) from None


def start_server(config: Config) -> MailServer:
    server = MailServer(config)
    server.start()
    return server


class LocalBackend:
    def __init__(self, server: MailServer) -> None:
        assert server.addresses is not None
        self.server = server
        self.service = server.service
        self.url = server.addresses.url

    def __repr__(self) -> str:
        return f"LocalBackend({self.url!r})"

    def _call(self, make: Callable[[], Awaitable[T]], timeout: float = CALL_TIMEOUT) -> T:
        async def run() -> T:
            return await make()

        try:
            return self.server.call(run(), timeout)
        except NotFound as error:
            raise APIError(404, str(error)) from None
        except (BadRequest, ConfigError, ValueError) as error:
            raise APIError(400, str(error)) from None

    def _query(self, q: str | None) -> Any:
        try:
            query = parse_query(q)
        except BadRequest as error:
            raise APIError(400, str(error)) from None
        return query if query else None

    def search(self, q: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        query = self._query(q)

        async def run() -> dict[str, Any]:
            page = await self.service.list_messages(query, limit, offset)
            return message_list_json(page.total, page.unread, page.messages)

        return self._call(run)

    def wait(self, q: str | None, count: int, timeout: float) -> tuple[dict[str, Any], bool]:
        query = self._query(q)

        async def run() -> tuple[dict[str, Any], bool]:
            page, enough = await self.service.wait_matching(query, count, timeout)
            return message_list_json(page.total, page.unread, page.messages), enough

        return self._call(run, timeout + CALL_TIMEOUT)

    def message(self, message_id: str) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            return message_json(await self.service.message(message_id))

        return self._call(run)

    def raw(self, message_id: str) -> bytes:
        async def run() -> bytes:
            return (await self.service.raw(message_id))[1]

        return self._call(run)

    def part(self, message_id: str, part_id: str) -> bytes:
        async def run() -> bytes:
            return (await self.service.part(message_id, part_id))[2]

        return self._call(run)

    def message_session(self, message_id: str) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            summary = await self.service.summary(message_id)
            return session_json(await self.service.session(summary.session_id))

        return self._call(run)

    def sessions(self, limit: int = 50, offset: int = 0, mailbox: str | None = None) -> dict[str, Any]:
        mailboxes = frozenset({mailbox.lower()}) if mailbox else None

        async def run() -> dict[str, Any]:
            total, sessions = await self.service.list_sessions(limit, offset, mailboxes)
            return session_list_json(total, sessions)

        return self._call(run)

    def clear(self, q: str | None = None) -> None:
        query = self._query(q)

        async def run() -> None:
            await self.service.delete_matching(query)

        self._call(run)

    def mailboxes(self) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            return [record_json(found) for found in await self.service.mailboxes()]

        return self._call(run)

    def _faults(self) -> Any:
        faults = getattr(self.server, "faults", None)
        if faults is None:
            raise APIError(404, "this mailtrap-lite has no fault rules")
        return faults

    def add_fault(self, rule: dict[str, Any]) -> dict[str, Any]:
        faults = self._faults()

        async def run() -> dict[str, Any]:
            added = faults.add(**rule)
            if inspect.isawaitable(added):
                added = await added
            return fault_json(added, added.times, 0)

        return self._call(run)

    def release(self, message_id: str, to: list[str] | None) -> dict[str, Any]:
        relay = self.server.relay
        if relay is None:
            raise APIError(409, NO_RELAY)

        async def run() -> dict[str, Any]:
            try:
                return record_json(await relay.release(message_id, to))
            except RelayRefused as refused:
                raise APIError(403, str(refused)) from None

        return self._call(run, RELEASE_TIMEOUT)

    def remove_fault(self, rule_id: str) -> None:
        faults = self._faults()

        async def run() -> None:
            faults.remove(rule_id)

        self._call(run)

    def clear_faults(self) -> None:
        faults = getattr(self.server, "faults", None)
        if faults is None:
            return

        async def run() -> None:
            cleared = faults.clear()
            if inspect.isawaitable(cleared):
                await cleared

        self._call(run)
