"""The POP3 listeners: asyncio stream servers on the loop everything else runs on, one task per connection.

Each connection drives a ``Machine`` with the lines it reads and carries out what the machine asks: checks a
login (slowed when it fails) and opens the maildrop, sends messages in chunks, starts TLS, deletes at QUIT.
Its conversation is recorded as a session like an SMTP one, with ``protocol="pop3"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import ssl

from mailtrap_lite.config import Config, HostPort
from mailtrap_lite.errors import NotFound, StoreError
from mailtrap_lite.model import AuthInfo
from mailtrap_lite.pop3 import maildrop, replies
from mailtrap_lite.pop3.machine import Fetch, Login, Machine, Reply, StartTLS, State, Update
from mailtrap_lite.pop3.wire import MAX_LINE_BYTES, LineBuffer, Stuffer, top
from mailtrap_lite.service import MailService
from mailtrap_lite.session_log import SessionLog, peer_text
from mailtrap_lite.smtp.credentials import Credentials
from mailtrap_lite.smtp.transcript import TranscriptRecorder

log = logging.getLogger("mailtrap_lite.pop3")

READ_SIZE = 64 * 1024
SEND_CHUNK = 64 * 1024
FAILED_LOGIN_DELAY = 0.5  # seconds: slows password guessing without holding anything but this connection
# RFC 1939 §3: an autologout timer, if any, of at least 10 minutes.
IDLE_TIMEOUT = 600.0
TRANSCRIPT_LIST_LINES = 10  # lines of a long LIST/UIDL kept in the transcript; the rest are counted
SHUTDOWN_GRACE = 3.0
DISCONNECTED = "client disconnected without QUIT"
LINGER = 2.0  # seconds spent reading (and dropping) what a refused client still sends


class _Then(enum.Enum):
    GO_ON = "go on"
    CLOSE = "close"
    # After STLS: lines that came with it are plaintext an attacker could have injected (RFC 2595 §4 as
    # RFC 3207 §4.2); they are dropped.
    DROP_THE_REST = "drop the rest"


class POP3Host:
    """Every POP3 listener and open connection."""

    def __init__(
        self,
        config: Config,
        service: MailService,
        credentials: Credentials,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.hostname = config.hostname
        self.require_tls = config.require_tls
        self.idle_timeout = IDLE_TIMEOUT
        self.service = service
        self.credentials = credentials
        self.tls_context = tls_context
        self._servers: list[asyncio.Server] = []
        self._connections: dict[asyncio.Task[None], Connection] = {}

    async def listen(self, address: HostPort, *, implicit_tls: bool = False) -> HostPort:
        """Start a listener; returns the address it is bound to (the real port when 0 was asked)."""

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(reader, writer, implicit_tls)

        server = await asyncio.start_server(
            serve,
            address.host,
            address.port,
            ssl=self.tls_context if implicit_tls else None,
            reuse_address=True,
            limit=2 * READ_SIZE,
        )
        self._servers.append(server)
        return HostPort(address.host, server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening, tell every open connection the server is going, and wait for them to end."""
        for server in self._servers:
            server.close()
        for connection in self._connections.values():
            connection.shut_down()
        tasks = list(self._connections)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, implicit: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        connection = Connection(self, reader, writer, implicit)
        self._connections[task] = connection
        self.service.session_started(connection.record)
        try:
            await connection.run()
        finally:
            del self._connections[task]
            writer.close()
            final = connection.record.end()
            # Saved even when this task is cancelled at shutdown: the session is the record of what happened.
            await asyncio.shield(self.service.session_ended(final))


class Connection:
    def __init__(
        self, host: POP3Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, implicit: bool
    ) -> None:
        self.host = host
        self.reader = reader
        self.writer = writer
        self.transcript = TranscriptRecorder()
        self.record = SessionLog(
            peer_text(writer.get_extra_info("peername")), self.transcript, protocol="pop3"
        )
        self.machine = Machine(
            hostname=host.hostname,
            tls_available=host.tls_context is not None,
            tls_active=implicit,
            require_tls=host.require_tls,
        )
        self.lines = LineBuffer(MAX_LINE_BYTES)
        self._shutting_down = False
        if implicit:
            self.record.note_tls(self.writer.get_extra_info)

    async def run(self) -> None:
        try:
            await self._reply(Reply(replies.GREETING.format(host=self.host.hostname)))
            await self._converse()
        except TimeoutError:  # before OSError, which it is a kind of
            self._lost("idle timeout")
            with contextlib.suppress(Exception):
                await self._reply(Reply(replies.IDLE))
        except ConnectionError:  # reset or broken pipe: the client went away, like EOF without QUIT
            if not self._shutting_down:
                self._lost(DISCONNECTED)
        except (ssl.SSLError, OSError) as error:
            self._lost(f"connection lost: {error.__class__.__name__}")
        except Exception:
            log.exception("POP3 session %s failed", self.record.id)
            self._lost("internal error")
            with contextlib.suppress(Exception):
                await self._reply(Reply(replies.INTERNAL_ERROR))

    def shut_down(self) -> None:
        """The server is stopping: say so (RFC 2449 §8.1.2) and hang up, without entering UPDATE."""
        self._shutting_down = True
        self._lost("server shutting down")
        self.transcript.server(replies.SHUTTING_DOWN)
        with contextlib.suppress(Exception):
            self.writer.write(f"{replies.SHUTTING_DOWN}\r\n".encode())
        self.writer.close()

    def _lost(self, reason: str) -> None:
        self.record.fail(reason)
        self.transcript.note(reason)

    async def _converse(self) -> None:
        while True:
            async with asyncio.timeout(self.host.idle_timeout):
                data = await self.reader.read(READ_SIZE)
            if not data:
                if not self._shutting_down:
                    self._lost(DISCONNECTED)
                return
            for line in self.lines.feed(data):
                then = await self._command(line)
                if then is _Then.CLOSE:
                    return
                if then is _Then.DROP_THE_REST:
                    break
            if self.lines.overflowed:
                self._lost("line too long")
                await self._reply(Reply(replies.LINE_TOO_LONG))
                await self._linger()
                return

    async def _linger(self) -> None:
        """Half-close and drop the client's remaining input for a moment: closing a socket with unread
        input resets the connection, and the reset can destroy the error reply before the client reads it."""
        if self.writer.can_write_eof():
            self.writer.write_eof()
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            async with asyncio.timeout(LINGER):
                while await self.reader.read(READ_SIZE):
                    pass

    async def _command(self, line: bytes) -> _Then:
        """Carry out one command line; says what to do with the connection and the lines read with it."""
        self.transcript.client(self.machine.loggable(line).encode("utf-8", "replace") + b"\r\n")
        action = self.machine.receive(line)
        if isinstance(action, Reply):
            await self._reply(action)
            return _Then.CLOSE if action.close else _Then.GO_ON
        if isinstance(action, Login):
            await self._login(action)
        elif isinstance(action, Fetch):
            await self._fetch(action)
        elif isinstance(action, StartTLS):
            await self._start_tls()
            return _Then.CLOSE if self.writer.is_closing() else _Then.DROP_THE_REST
        else:
            await self._update(action)
            return _Then.CLOSE
        return _Then.GO_ON

    async def _reply(self, reply: Reply) -> None:
        self.transcript.server(reply.status)
        out = [reply.status.encode("utf-8") + b"\r\n"]
        if reply.lines is not None:
            for number, line in enumerate(reply.lines):
                if number < TRANSCRIPT_LIST_LINES:
                    self.transcript.server(line)
                out.append(line.encode("utf-8") + b"\r\n")  # RFC 1939 §3: none of these begins with "."
            if len(reply.lines) > TRANSCRIPT_LIST_LINES:
                self.transcript.note(f"{len(reply.lines) - TRANSCRIPT_LIST_LINES} more lines")
            self.transcript.server(".")
            out.append(b".\r\n")
        self.writer.write(b"".join(out))
        await self.writer.drain()

    async def _login(self, login: Login) -> None:
        if not self.host.credentials.verify(login.username, login.password):
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            await self._reply(self.machine.login_failed())
            return
        try:
            drop = await maildrop.load(self.host.service, login.mailbox)
        except StoreError as error:
            await self._reply(self.machine.login_failed(replies.STORE_UNAVAILABLE.format(reason=error)))
            return
        self.record.auth = AuthInfo(mechanism=login.mechanism, username=login.username)
        await self._reply(self.machine.logged_in(login.mailbox, drop))

    async def _fetch(self, fetch: Fetch) -> None:
        try:
            _, raw = await self.host.service.raw(fetch.entry.id)
        except NotFound:
            await self._reply(Reply(replies.MESSAGE_GONE.format(number=fetch.number)))
            return
        except StoreError as error:
            await self._reply(Reply(replies.STORE_UNAVAILABLE.format(reason=error)))
            return
        if fetch.body_lines is None:
            status = replies.RETR.format(size=len(raw))
        else:
            raw, status = top(raw, fetch.body_lines), replies.TOP
        self.transcript.server(status)
        self.writer.write(status.encode() + b"\r\n")
        stuffer = Stuffer()
        for start in range(0, len(raw), SEND_CHUNK):
            self.writer.write(stuffer.feed(raw[start : start + SEND_CHUNK]))
            await self.writer.drain()
            # drain() returns without yielding while the socket takes everything (a fast local reader):
            # give the loop its turn after each chunk anyway.
            await asyncio.sleep(0)
        self.writer.write(stuffer.end())
        await self.writer.drain()
        self.transcript.note(f"message {fetch.number}: {len(raw)} bytes")
        self.transcript.server(".")

    async def _start_tls(self) -> None:
        assert self.host.tls_context is not None
        await self._reply(Reply(replies.STLS_GO))
        self.lines.discard()
        try:
            await self.writer.start_tls(self.host.tls_context)
        except (ssl.SSLError, OSError, ConnectionError) as error:
            self._lost(f"TLS handshake failed: {error.__class__.__name__}")
            self.writer.close()
            return
        self.machine.tls_started()
        self.record.note_tls(self.writer.get_extra_info)

    async def _update(self, update: Update) -> None:
        # RFC 1939 §6: the UPDATE state; messages deleted elsewhere meanwhile count as removed.
        failed: StoreError | None = None
        for message_id in update.ids:
            try:
                await self.host.service.delete(message_id)
            except NotFound:
                pass
            except StoreError as error:
                failed = error
        assert self.machine.state is State.UPDATE
        if failed is not None:
            await self._reply(Reply(replies.UPDATE_FAILED.format(reason=failed)))
        elif update.ids:
            bye = replies.BYE_UPDATED.format(host=self.host.hostname, count=len(update.ids))
            await self._reply(Reply(bye))
        else:
            await self._reply(Reply(replies.BYE.format(host=self.host.hostname)))
