"""/api/ws: the hub's events as JSON frames ``{"type": ..., "data": ...}``.

Three tasks per connection: one sends events (and a ping when idle), one receives (so a client that
leaves is noticed at once, and so it can send ``{"subscribe": "<query>", "mailbox": "<name>"}``), and
one waits for the hub to drop the subscription because the client fell behind, which closes it with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from mailtrap_lite.events import Event, Subscription
from mailtrap_lite.mailboxes import MailboxError, mailbox_name
from mailtrap_lite.search import Query, QueryError, matches, parse_query
from mailtrap_lite.web import access
from mailtrap_lite.web.context import context
from mailtrap_lite.wire import frame

PING_INTERVAL = 20.0
CLOSE_TIMEOUT = 2.0
# RFC 6455 §7.4.1 1008 "policy violation"; 1013 "try again later" (IANA registry) for a client too slow.
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
MAX_CLIENT_FRAME = 64 * 1024
# Every new message is matched against each subscriber's query (at most MAX_QUERY_TERMS terms) on the loop.
MAX_SUBSCRIBERS = 64

_Gone = (WebSocketDisconnect, WebSocketDisconnected, OSError)


@dataclass(slots=True)
class Filter:
    """What a client sees. Its ``subscribe`` query narrows ``message.new``; its mailbox (``?mailbox=`` or
    ``"mailbox"`` in a subscribe frame) and the mailboxes its user may see (``allowed``) narrow
    ``message.new``, ``message.updated`` and ``messages.tagged``; a user confined to some mailboxes gets
    no ``session.ended``. Every other event passes."""

    query: Query | None = None
    mailbox: str | None = None
    allowed: frozenset[str] | None = None

    def accept(self, event: Event) -> bool:
        if event.type == "session.ended":
            return self.allowed is None
        if event.subject is None:
            return True
        if event.type in ("message.updated", "message.released"):
            return self._shows(event.subject.mailbox)
        if event.type == "messages.tagged":  # its subject is the mailbox of the messages it lists
            return self._shows(event.subject)
        if event.type != "message.new":
            return True
        summary = event.subject.summary
        return self._shows(summary.mailbox) and (
            self.query is None or matches(self.query, summary, event.subject.body_text)
        )

    def _shows(self, mailbox: str) -> bool:
        return (self.allowed is None or mailbox in self.allowed) and self.mailbox in (None, mailbox)


def client_request(text: str, current: Filter) -> str:
    """Apply one client frame to the filter; returns the frame to answer with."""
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return frame("error", {"error": "frames must be JSON objects"})
    if not isinstance(request, dict):
        return frame("error", {"error": "frames must be JSON objects"})
    if request.get("type") == "ping":
        return frame("pong", None)
    if "subscribe" not in request:
        return frame("error", {"error": 'unknown request; send {"subscribe": "<query>"}'})
    text_query = request["subscribe"]
    if text_query is not None and not isinstance(text_query, str):
        return frame("error", {"error": "subscribe takes a query string (or null for everything)"})
    mailbox = request.get("mailbox", current.mailbox)
    if mailbox is not None and not isinstance(mailbox, str):
        return frame("error", {"error": "mailbox takes a mailbox name (or null for every mailbox)"})
    try:
        query = parse_query(text_query)
        mailbox = mailbox_name(mailbox) if mailbox else None
    except (QueryError, MailboxError) as error:
        return frame("error", {"error": str(error), "subscribe": text_query})
    current.query = query if query else None
    current.mailbox = mailbox
    return frame("subscribed", {"q": text_query or "", "mailbox": mailbox})


class _Connection:
    def __init__(self, websocket: WebSocket, subscription: Subscription, current: Filter) -> None:
        self.websocket = websocket
        self.subscription = subscription
        self.filter = current
        self._send_lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def send_events(self) -> None:
        while True:
            try:
                async with asyncio.timeout(PING_INTERVAL):
                    event = await self.subscription.get()
            except TimeoutError:
                await self.send(frame("ping", None))
                continue
            await self.send(frame(event.type, event.data))

    async def receive_requests(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None or len(text) > MAX_CLIENT_FRAME:
                await self.send(frame("error", {"error": "send JSON text frames under 64 KiB"}))
                continue
            await self.send(client_request(text, self.filter))

    async def run(self) -> None:
        tasks = {
            asyncio.create_task(self.send_events()),
            asyncio.create_task(self.receive_requests()),
            asyncio.create_task(self.subscription.wakeup.wait()),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, (asyncio.CancelledError, *_Gone)):
                raise result
        if self.subscription.overflowed:
            limit = self.subscription.queue.maxsize
            reason = f"client too slow: more than {limit} events behind; reconnect and reload"
            with contextlib.suppress(*_Gone, TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.websocket.close(TRY_AGAIN_LATER, reason)


async def events_socket(websocket: WebSocket) -> None:
    service = context(websocket).service
    if service.subscribers >= MAX_SUBSCRIBERS:
        await websocket.accept()
        with contextlib.suppress(*_Gone):
            await websocket.close(POLICY_VIOLATION, f"too many event subscribers: at most {MAX_SUBSCRIBERS}")
        return
    mailbox = websocket.query_params.get("mailbox", "").strip().lower() or None
    current = Filter(mailbox=mailbox, allowed=access.allowed(websocket))
    with service.subscribe(current.accept) as subscription:
        # Subscribed before the handshake completes: nothing published after connect() returns is missed.
        await websocket.accept()
        await _Connection(websocket, subscription, current).run()


routes = [WebSocketRoute("/api/ws", events_socket)]
