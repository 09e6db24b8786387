"""Release and automatic relay: the policy, the next hop, the client and the queue, over the store and
the event hub."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal

from mailtrap_lite.config import Config, RelayTarget
from mailtrap_lite.errors import BadRequest, NotFound, RelayRefused
from mailtrap_lite.events import Event
from mailtrap_lite.ids import new_id
from mailtrap_lite.model import MessageSummary, RelayItem, Release, StoredMessage, utcnow
from mailtrap_lite.relay.client import ClientSettings, Delivery, deliver
from mailtrap_lite.relay.clock import Clock, SystemClock
from mailtrap_lite.relay.mx import Hop, MXResolver, NoRoute
from mailtrap_lite.relay.policy import RelayPolicy, domain_of, release_recipients
from mailtrap_lite.relay.queue import RelayQueue, after_attempt
from mailtrap_lite.search import matches, parse_query
from mailtrap_lite.service import MailService
from mailtrap_lite.wire import released_json

log = logging.getLogger("mailtrap_lite.relay")


class Relayer:
    def __init__(self, config: Config, service: MailService, clock: Clock | None = None) -> None:
        assert config.relay is not None
        self.target: RelayTarget = config.relay
        self.service = service
        self.hostname = config.hostname
        self.policy = RelayPolicy(config.relay_allow, config.relay_deny)
        self.mail_from = config.relay_mail_from
        self.return_path = config.relay_return_path
        self.auto = None if config.relay_auto is None else parse_query(config.relay_auto)
        self.retries = config.relay_retries
        self.retry_base = config.relay_retry_base
        self.settings = ClientSettings(
            tls=config.relay_tls,
            verify=not config.relay_insecure,
            username=config.relay_user,
            password=config.relay_password,
            local_hostname=config.hostname,
        )
        self.resolver = MXResolver(config.relay_dns) if self.target.host is None else None
        self.clock = clock or SystemClock()
        self.queue = RelayQueue(service.store, self.clock, self._attempt)
        self._tls_context: ssl.SSLContext | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self.auto is not None:
            self.service.stored_hooks.append(self.message_stored)
        self.queue.start()

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await self.queue.close()

    # --- manual release ------------------------------------------------------------------------------

    async def release(self, message_id: str, to: object = None) -> Release:
        """Forward a stored message now (``to``: the accepted envelope recipients when None).

        Raises NotFound, BadRequest (bad addresses, or several domains with --relay mx) and RelayRefused."""
        summary, raw = await self.service.raw(message_id)
        recipients = release_recipients(to, summary.envelope.accepted)
        split = self.policy.split(recipients)
        if split.refused:
            raise RelayRefused(split.refused)
        if self.target.host is None and len({domain_of(a) for a in recipients}) > 1:
            raise BadRequest("with --relay mx a release goes to one domain: release to each domain apart")
        delivery = await self._send(summary, raw, recipients)
        await self._record(summary.id, delivery.release)
        return delivery.release

    # --- automatic relay -----------------------------------------------------------------------------

    def message_stored(self, stored: StoredMessage) -> None:
        assert self.auto is not None
        if not matches(self.auto, stored.summary, stored.body_text):
            return
        task = asyncio.get_running_loop().create_task(self._enqueue(stored.summary))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _enqueue(self, summary: MessageSummary) -> None:
        allowed = self.policy.split(summary.envelope.accepted).allowed
        groups: dict[str, list[str]] = {}
        for address in allowed:
            groups.setdefault("" if self.target.host else domain_of(address), []).append(address)
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        for group in groups.values():
            item = RelayItem(new_id(), summary.id, tuple(group), "queued", 0, now, now)
            try:
                await self.queue.add(item)
            except Exception:
                log.exception("message %s could not be queued for relay", summary.id)

    async def _attempt(self, item: RelayItem) -> None:
        try:
            summary, raw = await self.service.raw(item.message_id)
        except NotFound:
            await self.queue.drop(item.id)  # the message was deleted meanwhile
            return
        try:
            delivery = await self._send(summary, raw, item.to)
        except Exception as error:
            # Unforeseen, so perhaps certain to recur: counted as a try, so that the limit ends it.
            log.exception("relaying message %s failed", summary.id)
            delivery = Delivery(self._unsent(item.to, summary, "deferred", f"internal error: {error!r}"), ())
        release = dataclasses.replace(delivery.release, trigger="auto")
        now = self.clock.now()
        settled = after_attempt(
            item, release, delivery.deferred_to, now=now, retries=self.retries, base=self.retry_base
        )
        await self._record(summary.id, release, settled)

    # --- both ----------------------------------------------------------------------------------------

    def _mail_from(self, summary: MessageSummary) -> str:
        return self.mail_from if self.mail_from is not None else summary.envelope.mail_from

    def _unsent(
        self, to: tuple[str, ...], summary: MessageSummary, result: Literal["refused", "deferred"], error: str
    ) -> Release:
        """The record of a release that reached no next hop."""
        return Release(
            at=utcnow(),
            to=to,
            relay=str(self.target),
            result=result,
            code=None,
            mail_from=self._mail_from(summary),
            error=error,
        )

    async def _send(self, summary: MessageSummary, raw: bytes, to: tuple[str, ...]) -> Delivery:
        try:
            hops = await self._hops(domain_of(to[0]))
        except NoRoute as error:
            return Delivery(
                self._unsent(to, summary, "refused" if error.permanent else "deferred", str(error)), ()
            )
        return await deliver(
            self._trace(summary) + raw,
            mail_from=self._mail_from(summary),
            to=to,
            hops=hops,
            settings=self.settings,
            tls_context=await self._context(),
        )

    async def _hops(self, domain: str) -> list[Hop]:
        if self.resolver is None:
            assert self.target.host is not None
            return [Hop(self.target.host, self.target.host, self.target.port)]
        return await self.resolver.hops(domain, self.target.port)

    def _trace(self, summary: MessageSummary) -> bytes:
        """RFC 5321 §4.4: a relay prepends its Received line; the captured bytes follow unchanged."""
        stamp = format_datetime(datetime.now(UTC), usegmt=True)
        lines = f"Received: by {self.hostname} (mailtrap-lite) with ESMTP id {summary.id};\r\n\t{stamp}\r\n"
        if self.return_path is not None:
            lines = f"Return-Path: <{self.return_path}>\r\n" + lines
        return lines.encode()

    async def _context(self) -> ssl.SSLContext | None:
        if self.settings.tls == "none":
            return None
        if self._tls_context is None:
            # Loading the system's trusted certificates reads files: not on the loop.
            context = await asyncio.to_thread(ssl.create_default_context)
            if not self.settings.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls_context = context
        return self._tls_context

    async def _record(self, message_id: str, release: Release, item: RelayItem | None = None) -> None:
        summary = await self.service.store.add_release(message_id, release, item)
        # The summary lets the websocket show the event only to those who may see its mailbox.
        self.service.hub.publish(Event("message.released", released_json(message_id, release), summary))
