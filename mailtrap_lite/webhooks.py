"""Webhooks: each new message's summary POSTed to configured URLs, off the SMTP path.

A message's ``250`` never waits for a webhook: the dispatcher listens on the event hub, queues one delivery
per URL, and posts them in the background (at most ``CONCURRENT_POSTS`` at once, each on a thread with a
timeout). A delivery that meets a connection error, a timeout, a ``5xx``, ``408`` or ``429`` is retried
after ``first_retry`` seconds, then twice as long each time, up to ``attempts`` tries; any other answer
ends it (``2xx`` delivered, else failed). At most ``queue_limit`` deliveries wait at once: one more is
recorded as dropped. The last ``RECENT`` deliveries stay listed for ``GET /api/webhooks``.

With a signing secret, each request carries ``X-Mailtrap-Timestamp`` (Unix seconds) and
``X-Mailtrap-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>`` under the secret, so a
receiver can check who sent it and refuse replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from mailtrap_lite.config import Config
from mailtrap_lite.errors import ConfigError
from mailtrap_lite.events import Event, Subscription
from mailtrap_lite.model import utcnow
from mailtrap_lite.search import Query, matches, parse_query

log = logging.getLogger("mailtrap_lite.webhooks")

CONCURRENT_POSTS = 4
RECENT = 100
_RETRIED_STATUSES = frozenset((408, 429))


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    urls: tuple[str, ...]
    query: Query | None = None
    query_text: str | None = None
    secret: bytes | None = None
    first_retry: float = 1.0
    attempts: int = 6
    timeout: float = 10.0
    queue_limit: int = 1000
    user_agent: str = "mailtrap-lite"


def settings_from_config(config: Config, version: str) -> WebhookSettings:
    secret = None
    if config.webhook_secret_file is not None:
        try:
            secret = config.webhook_secret_file.read_bytes().strip()
        except OSError as error:
            raise ConfigError(
                f"--webhook-secret-file: {error.strerror}: {config.webhook_secret_file}"
            ) from None
        if not secret:
            raise ConfigError(f"--webhook-secret-file: {config.webhook_secret_file} is empty")
    query = parse_query(config.webhook_query) if config.webhook_query else None
    return WebhookSettings(
        urls=config.webhook,
        query=query or None,
        query_text=config.webhook_query or None,
        secret=secret,
        first_retry=config.webhook_retry,
        attempts=config.webhook_attempts,
        user_agent=f"mailtrap-lite/{version}",
    )


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One message posted to one URL, as it stands."""

    id: int
    url: str
    event: str
    message_id: str
    created_at: datetime
    status: str = "pending"  # pending, delivered, failed, dropped
    attempts: int = 0
    code: int | None = None  # the receiver's last HTTP status
    error: str | None = None  # why the last attempt did not deliver
    next_attempt_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    urls: tuple[str, ...]
    query: str | None
    pending: int
    deliveries: tuple[WebhookDelivery, ...]  # newest first


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body``; the HTTP status (an error status too), or raises OSError when no answer came."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError as error:
        reason = error.reason
        raise reason if isinstance(reason, OSError) else OSError(str(reason)) from error


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookDispatcher:
    def __init__(
        self,
        settings: WebhookSettings,
        subscribe: Callable[[Callable[[Event], bool]], Subscription],
    ) -> None:
        self.settings = settings
        self._subscribe = subscribe
        self._ids = itertools.count(1)
        self._recent: deque[WebhookDelivery] = deque(maxlen=RECENT)
        self._current: dict[int, WebhookDelivery] = {}  # pending ones, by id
        self._bodies: dict[int, bytes] = {}
        self._slots = asyncio.Semaphore(CONCURRENT_POSTS)
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        subscription = self._subscribe(self._wanted)
        self._listener = asyncio.create_task(self._listen(subscription))

    async def close(self) -> None:
        tasks = [t for t in (self._listener, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def status(self) -> WebhookStatus:
        return WebhookStatus(
            self.settings.urls,
            self.settings.query_text,
            len(self._current),
            tuple(reversed([self._current.get(d.id, d) for d in self._recent])),
        )

    def _wanted(self, event: Event) -> bool:
        if event.type != "message.new":
            return False
        query, stored = self.settings.query, event.subject
        return query is None or stored is None or matches(query, stored.summary, stored.body_text)

    async def _listen(self, subscription: Subscription) -> None:
        with subscription:
            while True:
                event = await subscription.get()
                self._enqueue(event)

    def _enqueue(self, event: Event) -> None:
        data: dict[str, Any] = event.data
        body = json.dumps({"event": event.type, "message": data}, separators=(",", ":")).encode()
        for url in self.settings.urls:
            delivery = WebhookDelivery(next(self._ids), url, event.type, str(data["id"]), utcnow())
            if len(self._current) >= self.settings.queue_limit:
                delivery = replace(
                    delivery, status="dropped", error="too many deliveries waiting", finished_at=utcnow()
                )
                log.warning("webhook delivery to %s dropped: %d waiting already", url, len(self._current))
                self._recent.append(delivery)
                continue
            self._current[delivery.id] = delivery
            self._bodies[delivery.id] = body
            self._recent.append(delivery)
            self._spawn(self._deliver(delivery.id, 0.0))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery_id: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        delivery = self._current[delivery_id]
        body = self._bodies[delivery_id]
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.settings.user_agent,
            "X-Mailtrap-Event": delivery.event,
            "X-Mailtrap-Delivery": str(delivery.id),
        }
        if self.settings.secret is not None:
            timestamp = str(int(time.time()))
            headers["X-Mailtrap-Timestamp"] = timestamp
            headers["X-Mailtrap-Signature"] = signature(self.settings.secret, timestamp, body)
        code: int | None = None
        error: str | None = None
        async with self._slots:
            try:
                code = await asyncio.to_thread(post, delivery.url, body, headers, self.settings.timeout)
            except OSError as failure:
                error = str(failure) or type(failure).__name__
        attempts = delivery.attempts + 1
        retry = code is None or code >= 500 or code in _RETRIED_STATUSES
        if code is not None and 200 <= code < 300:
            self._finish(replace(delivery, attempts=attempts, code=code, status="delivered", error=None))
        elif not retry or attempts >= self.settings.attempts:
            reason = error or f"HTTP {code}"
            log.warning(
                "webhook delivery to %s failed after %d attempt(s): %s", delivery.url, attempts, reason
            )
            self._finish(replace(delivery, attempts=attempts, code=code, status="failed", error=reason))
        else:
            wait = self.settings.first_retry * 2 ** (attempts - 1)
            self._current[delivery_id] = replace(
                delivery,
                attempts=attempts,
                code=code,
                error=error or f"HTTP {code}",
                next_attempt_at=datetime.fromtimestamp(time.time() + wait, tz=utcnow().tzinfo),
            )
            self._spawn(self._deliver(delivery_id, wait))

    def _finish(self, delivery: WebhookDelivery) -> None:
        finished = replace(delivery, next_attempt_at=None, finished_at=utcnow())
        del self._current[delivery.id]
        del self._bodies[delivery.id]
        # Replace the pending snapshot kept among the recent ones, if it is still there.
        for index, kept in enumerate(self._recent):
            if kept.id == delivery.id:
                self._recent[index] = finished
                break
