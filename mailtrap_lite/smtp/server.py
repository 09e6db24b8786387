"""The SMTP listeners: protocol instances on ``loop.create_server``, sharing one host object.

aiosmtpd's Controller is not used (port 0 is broken there, and it wants its own loop): the listeners live
on the same event loop as the web server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from typing import Any

from mailtrap_lite.config import Config, HostPort
from mailtrap_lite.faults import FaultEngine
from mailtrap_lite.model import Arrival, Session
from mailtrap_lite.service import MailService
from mailtrap_lite.smtp import replies
from mailtrap_lite.smtp.credentials import Credentials
from mailtrap_lite.smtp.protocol import CatcherSMTP

log = logging.getLogger("mailtrap_lite.smtp")


def _not_login_data_deprecation(record: logging.LogRecord) -> bool:
    # aiosmtpd 1.4 warns about its own deprecated attribute on every successful AUTH; nobody can act on it.
    return not str(record.msg).startswith("Session.login_data is deprecated")


logging.getLogger("mail.log").addFilter(_not_login_data_deprecation)


class SMTPHost:
    """Implements ``SessionHost`` for every connection: settings, delivery, session bookkeeping."""

    def __init__(
        self,
        config: Config,
        service: MailService,
        faults: FaultEngine,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """Raises ConfigError when the ``--auth-file`` cannot be used."""
        self.hostname = config.hostname
        self.max_message_size = config.max_message_size
        self.max_recipients = config.max_recipients
        self.idle_timeout = config.idle_timeout
        self.require_auth = config.require_auth
        self.require_tls = config.require_tls
        self.credentials = Credentials.from_file(config.auth_file) if config.auth_file else Credentials()
        self.faults = faults
        self.tls_context = tls_context
        self.service = service
        self.connections: set[CatcherSMTP] = set()
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def deliver(self, arrival: Arrival) -> None:
        await self.service.ingest(arrival)

    def session_started(self, protocol: CatcherSMTP) -> None:
        self.connections.add(protocol)
        assert protocol.record is not None
        self.service.session_started(protocol.record)

    def session_ended(self, protocol: CatcherSMTP, final: Session) -> None:
        self.connections.discard(protocol)
        task = asyncio.get_running_loop().create_task(self.service.session_ended(final))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle_EHLO(
        self, server: CatcherSMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        # RFC 2034: the protocol adds an enhanced status code to every reply it sends.
        return [*responses[:-1], "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_MAIL(
        self, server: CatcherSMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        return await server.mail_hook(address, options)

    async def handle_RCPT(
        self, server: CatcherSMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        return await server.rcpt_hook(address, options)

    def message_rejected(self, reason: str) -> None:
        self.service.record_rejection(reason)

    def protocol_factory(self, implicit_tls: bool = False) -> CatcherSMTP:
        if implicit_tls:
            # Encrypted from the first byte: no STARTTLS to offer or to require.
            return CatcherSMTP(self)
        return CatcherSMTP(self, tls_context=self.tls_context, require_starttls=self.require_tls)

    async def listen(self, address: HostPort, *, implicit_tls: ssl.SSLContext | None = None) -> HostPort:
        """Start a listener; returns the address it is bound to (the real port when 0 was asked)."""
        loop = asyncio.get_running_loop()
        factory = functools.partial(self.protocol_factory, implicit_tls=implicit_tls is not None)
        server = await loop.create_server(
            factory, address.host, address.port, ssl=implicit_tls, reuse_address=True
        )
        self._servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return HostPort(address.host, port)

    async def close(self) -> None:
        """Stop listening, answer every open session 421 (RFC 5321 §3.8), and wait for the last writes."""
        for server in self._servers:
            server.close()
        for protocol in list(self.connections):
            protocol.close_with(replies.SHUTTING_DOWN.format(host=self.hostname), "server shutting down")
        for server in self._servers:
            await server.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
