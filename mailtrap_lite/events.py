"""The event hub: publish/subscribe with a bounded queue per subscriber.

Publishing never waits: SMTP ingest must not slow down because a browser tab or a test is slow to read.
A subscriber whose queue is full is marked overflowed and gets no more events; its owner (the websocket
endpoint) notices and disconnects it with a reason. A store shared by several instances sets ``relay``
to hand each event published here to the other instances, and publishes theirs marked ``remote``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventType = Literal[
    "message.new",
    "message.updated",
    "messages.updated",
    "messages.tagged",
    "message.deleted",
    "messages.cleared",
    "session.ended",
    "stats",
    "message.released",
]


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    data: Any
    # The object the event is about (e.g. a MessageSummary), for in-process filters; not serialised.
    subject: Any = None
    # Heard from another instance sharing the store: what must happen once per event (a webhook) was
    # done there, and it is not relayed back.
    remote: bool = False


@dataclass(eq=False)
class Subscription:
    hub: EventHub
    queue: asyncio.Queue[Event]
    accept: Callable[[Event], bool] | None = None
    overflowed: bool = False
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    async def get(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self.hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self.published = 0
        # Passes events to the other instances; it must read only ``subject`` of the event types that
        # ``publish_new`` publishes (``data`` is None when nobody here listens).
        self.relay: Callable[[Event], None] | None = None

    def subscribe(
        self, accept: Callable[[Event], bool] | None = None, queue_size: int | None = None
    ) -> Subscription:
        subscription = Subscription(self, asyncio.Queue(queue_size or self.queue_size), accept)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish_new(self, event_type: EventType, data: Callable[[], Any], subject: Any = None) -> None:
        """Publish an event whose JSON is built only if someone listens (no tab open, no test waiting)."""
        if not self._subscribers:
            self.published += 1
            if self.relay is not None:  # it reads the subject, not the JSON
                self.relay(Event(event_type, None, subject))
            return
        self.publish(Event(event_type, data(), subject))

    def publish(self, event: Event) -> None:
        """Deliver to every subscriber that wants the event, and to ``relay`` unless it is remote; must
        be called on the event loop."""
        self.published += 1
        if self.relay is not None and not event.remote:
            self.relay(event)
        for subscription in list(self._subscribers):
            if subscription.accept is not None and not subscription.accept(event):
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscription.overflowed = True
                subscription.wakeup.set()
                self._subscribers.discard(subscription)
