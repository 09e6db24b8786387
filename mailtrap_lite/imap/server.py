"""The IMAP listeners: asyncio stream servers on the shared event loop, one ``IMAPSession`` per client."""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mailtrap_lite.config import Config, HostPort
from mailtrap_lite.imap.session import LINE_LIMIT, IMAPSession
from mailtrap_lite.model import Session
from mailtrap_lite.service import MailService
from mailtrap_lite.smtp.credentials import Credentials

R = TypeVar("R")


class IMAPHost:
    def __init__(
        self,
        config: Config,
        service: MailService,
        credentials: Credentials,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.hostname = config.hostname
        self.require_tls = config.require_tls
        self.credentials = credentials
        # The mailboxes a login may read besides its own: those --mailbox-access lists for its user.
        self.readable = {entry.user: entry.mailboxes for entry in config.mailbox_access}
        self.tls_context = tls_context
        self.service = service
        self.sessions: set[IMAPSession] = set()
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # FETCH parses MIME structure and cuts sections here, one message after another, never on the loop.
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="mailtrap-imap")

    async def off_loop(self, work: Callable[..., R], *args: object) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._worker, work, *args)

    async def listen(self, address: HostPort, *, implicit_tls: bool = False) -> HostPort:
        """Start a listener; returns the address it is bound to (the real port when 0 was asked)."""
        context = self.tls_context if implicit_tls else None
        server = await asyncio.start_server(
            functools.partial(self._serve, tls=context is not None),
            address.host,
            address.port,
            ssl=context,
            limit=LINE_LIMIT,
            reuse_address=True,
        )
        self._servers.append(server)
        return HostPort(address.host, server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool) -> None:
        session = IMAPSession(self, reader, writer, tls=tls)
        self.sessions.add(session)
        self.service.session_started(session.record)
        await session.run()

    def session_ended(self, session: IMAPSession, final: Session) -> None:
        self.sessions.discard(session)
        task = asyncio.get_running_loop().create_task(self.service.session_ended(final))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop listening and say BYE to every open session."""
        for server in self._servers:
            server.close()
        for session in list(self.sessions):
            session.transcript.note("server shutting down")
            if not session.writer.is_closing():
                session.writer.write(b"* BYE server shutting down\r\n")
                session.writer.close()
        for server in self._servers:
            await server.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._worker.shutdown(wait=False)
