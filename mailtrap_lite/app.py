"""MailServer: the store, the event hub, the SMTP listeners and the web server on one event loop.

Runs in the foreground (``run``, for the CLI) or on a background thread (``start``/``stop``, for the pytest
plugin and for embedding).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn

from mailtrap_lite import webhooks
from mailtrap_lite.config import Config, HostPort, exposure_warning, parse_base_path
from mailtrap_lite.errors import MailtrapError, StoreUnavailable
from mailtrap_lite.events import EventHub
from mailtrap_lite.faults import FaultEngine
from mailtrap_lite.imap.server import IMAPHost
from mailtrap_lite.mailboxes import Routing
from mailtrap_lite.pop3.server import POP3Host
from mailtrap_lite.relay.relayer import Relayer
from mailtrap_lite.service import MailService
from mailtrap_lite.smtp.server import SMTPHost
from mailtrap_lite.smtp.tls import server_context
from mailtrap_lite.store import create_store
from mailtrap_lite.store.base import Retention, SharedStore
from mailtrap_lite.tags import Tagging
from mailtrap_lite.web.app import create_app
from mailtrap_lite.web.context import WebContext
from mailtrap_lite.web.prefix import under_prefix
from mailtrap_lite.webhooks import WebhookDispatcher

log = logging.getLogger("mailtrap_lite")

T = TypeVar("T")

PRUNE_INTERVAL = 1.0
SHUTDOWN_GRACE = 3.0


class StartupError(MailtrapError):
    """The server could not start (a port in use, a store that will not open)."""


@dataclass(frozen=True, slots=True)
class Addresses:
    smtp: HostPort
    http: HostPort
    smtps: HostPort | None
    base_path: str = ""  # --base-path, without its trailing slash
    pop3: HostPort | None = None
    pop3s: HostPort | None = None
    imap: HostPort | None = None
    imaps: HostPort | None = None

    @property
    def url(self) -> str:
        """Where the web side answers, ``--base-path`` included (no trailing slash)."""
        host = self.http.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host if ':' not in host else f'[{host}]'}:{self.http.port}{self.base_path}"


class _Uvicorn(uvicorn.Server):
    # MailServer owns the signals: uvicorn would otherwise re-raise them after its own shutdown.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def retention_of(config: Config) -> Retention:
    overrides = tuple((r.mailbox, r.max_messages, r.max_age) for r in config.mailbox_retention)
    return Retention(config.max_messages, config.max_age, overrides)


class MailServer:
    """The whole catcher. ``await serve()`` until stopped, or ``start()``/``stop()`` on a thread."""

    def __init__(self, config: Config | None = None) -> None:
        """Raises ConfigError when the TLS material or the auth file cannot be used."""
        from mailtrap_lite import __version__

        self.config = config or Config()
        if self.config.base_path:  # a Config built in code: "/mail/" as the flag would give it
            self.config = self.config.replace(base_path=parse_base_path(self.config.base_path))
        self.version = __version__
        self.store = create_store(self.config)
        self.hub = EventHub()
        self.service = MailService(
            self.store,
            self.hub,
            retention_of(self.config),
            Routing(self.config.mailbox, self.config.mailbox_per_user),
            Tagging(self.config.tags_from_plus, self.config.tags_from_auth),
        )
        self.faults = FaultEngine()
        for spec in self.config.fault:
            self.faults.add(spec.stage, spec.code, match=spec.match, times=spec.times)
        tls = server_context(self.config)
        self.tls_context = tls.context if tls else None
        # The PEM a client can trust to verify the server (cafile/cadata), e.g. the self-signed one.
        self.tls_certificate = tls.certificate_pem if tls else None
        self.smtp = SMTPHost(self.config, self.service, self.faults, self.tls_context)
        self.pop3 = POP3Host(self.config, self.service, self.smtp.credentials, self.tls_context)
        self.webhooks = WebhookDispatcher(
            webhooks.settings_from_config(self.config, self.version), self.service.subscribe
        )
        self.imap = IMAPHost(self.config, self.service, self.smtp.credentials, self.tls_context)
        self.relay = Relayer(self.config, self.service) if self.config.relay is not None else None
        self.addresses: Addresses | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._uvicorn: _Uvicorn | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # --- on the loop -------------------------------------------------------------------------------------

    async def open(self) -> Addresses:
        """Open the store and every listener; returns where they listen."""
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await self.store.open()
        except MailtrapError:
            raise
        except Exception as error:
            raise StartupError(f"cannot open the store: {error}") from error
        if isinstance(self.store, SharedStore):
            try:
                await self.store.share(self.hub, self.faults)
            except BaseException:
                await self.store.close()
                raise
        http_socket = self._bind_http()
        listening = self.config.smtp
        try:
            smtp_address = await self.smtp.listen(listening)
            smtps_address = None
            if self.config.smtps is not None:
                listening = self.config.smtps
                smtps_address = await self.smtp.listen(listening, implicit_tls=self.tls_context)
        except OSError as error:
            http_socket.close()
            await self.smtp.close()
            raise StartupError(f"cannot listen for SMTP on {listening}: {error.strerror}") from error
        retrieval: dict[str, HostPort | None] = {}
        for name, host, address, implicit in (
            ("pop3", self.pop3, self.config.pop3, False),
            ("pop3s", self.pop3, self.config.pop3s, True),
            ("imap", self.imap, self.config.imap, False),
            ("imaps", self.imap, self.config.imaps, True),
        ):
            try:
                retrieval[name] = await host.listen(address, implicit_tls=implicit) if address else None
            except OSError as error:
                http_socket.close()
                for opened in (self.smtp, self.pop3, self.imap):
                    await opened.close()
                protocol = name[:4].upper()
                raise StartupError(f"cannot listen for {protocol} on {address}: {error.strerror}") from error
        if self.relay is not None:
            await self.relay.start()
        ctx = WebContext(
            self.service, self.config, self.version, self.faults, self.webhooks, relay=self.relay
        )
        uv_config = uvicorn.Config(
            under_prefix(create_app(ctx), self.config.base_path),
            lifespan="off",
            ws="auto",
            log_level="warning",
            access_log=False,
        )
        self._uvicorn = _Uvicorn(uv_config)
        self._web_task = asyncio.create_task(self._uvicorn.serve(sockets=[http_socket]))
        while not self._uvicorn.started:
            if self._web_task.done():
                await self._web_task
                raise StartupError("the web server stopped during start-up")
            await asyncio.sleep(0.01)
        port = http_socket.getsockname()[1]
        if (warning := exposure_warning(self.config)) is not None:
            log.warning("%s", warning)
        self.addresses = Addresses(
            smtp_address,
            HostPort(self.config.http.host, port),
            smtps_address,
            self.config.base_path,
            **retrieval,
        )
        if self.config.webhook:
            self.webhooks.start()
        self._maintenance = asyncio.create_task(self._maintain())
        self._loop_lag = asyncio.create_task(self.service.loop_lag.run())
        return self.addresses

    def _bind_http(self) -> socket.socket:
        address = self.config.http
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        try:
            sock = socket.create_server((address.host, address.port), family=family, reuse_port=False)
        except OSError as error:
            raise StartupError(f"cannot listen for HTTP on {address}: {error.strerror}") from error
        # asyncio turns Nagle off only on sockets created with proto=IPPROTO_TCP, which create_server's are
        # not; accepted sockets inherit this. Without it every keep-alive response (uvicorn writes headers
        # and body separately) and every second websocket frame waits for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL)
            try:
                await self.service.prune()
            except StoreUnavailable:
                pass  # the store logged the outage when it began; pruning resumes with it
            except Exception:
                log.exception("retention pruning failed")

    async def close(self) -> None:
        """Answer open SMTP sessions 421, stop the listeners and the web server, close the store."""
        for task in (getattr(self, "_maintenance", None), getattr(self, "_loop_lag", None)):
            if task is not None:
                task.cancel()
        await self.smtp.close()
        await self.pop3.close()
        await self.webhooks.close()
        await self.imap.close()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            try:
                await asyncio.wait_for(self._web_task, SHUTDOWN_GRACE)
            except TimeoutError:
                self._uvicorn.force_exit = True
                await self._web_task
        if self.relay is not None:
            await self.relay.close()
        await self.service.close()
        await self.store.close()

    async def serve(
        self,
        *,
        install_signal_handlers: bool = False,
        on_ready: Callable[[Addresses], None] | None = None,
    ) -> None:
        """Run until ``request_stop()`` (or SIGINT/SIGTERM when asked to handle them)."""
        addresses = await self.open()
        assert self._stopping is not None
        if on_ready is not None:
            on_ready(addresses)
        if install_signal_handlers:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self._stopping.set)
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self.close()

    def request_stop(self) -> None:
        if self.loop is not None and self._stopping is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)

    # --- from another thread -----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Addresses:
        """Run the server on a background thread; returns once it listens."""
        self._thread = threading.Thread(target=self._thread_main, name="mailtrap-lite", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise StartupError(f"the server did not start within {timeout}s")
        if self._startup_error is not None:
            raise self._startup_error
        assert self.addresses is not None
        return self.addresses

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.serve())
        except BaseException as error:  # handed to the thread that called start()
            self._startup_error = error
            self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's loop from another thread and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)
