"""The event hub, driven directly on an event loop: no server, no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from mailtrap_lite.events import Event, EventHub

T = TypeVar("T")


def run(body: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(body(), timeout=10)  # a generous limit: a hang fails, never a pace

    return asyncio.run(bounded())


def drain(queue: asyncio.Queue[Event]) -> list[Event]:
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


def test_every_subscriber_gets_every_event_in_order() -> None:
    async def body() -> None:
        hub = EventHub()
        first, second = hub.subscribe(), hub.subscribe()
        sent = [Event("message.new", {"id": str(n)}) for n in range(3)]
        for event in sent:
            hub.publish(event)

        assert [await first.get() for _ in sent] == sent
        assert drain(second.queue) == sent
        assert hub.published == 3

    run(body)


def test_a_waiting_subscriber_is_woken_by_publish() -> None:
    async def body() -> None:
        hub = EventHub()
        subscription = hub.subscribe()
        waiting = asyncio.create_task(subscription.get())
        await asyncio.sleep(0)  # one loop turn (not a delay): the task now blocks on the empty queue
        assert not waiting.done()

        hub.publish(Event("stats", {"messages": 1}))

        assert (await waiting).data == {"messages": 1}

    run(body)


def test_publish_never_blocks_and_a_full_queue_disconnects_only_its_subscriber() -> None:
    async def body() -> None:
        hub = EventHub()
        slow = hub.subscribe(queue_size=2)
        fast = hub.subscribe(queue_size=10)

        for n in range(5):  # synchronous: publish cannot wait for a reader
            hub.publish(Event("message.new", n))

        assert slow.overflowed and slow.wakeup.is_set()
        assert [event.data for event in drain(slow.queue)] == [0, 1]  # nothing after the overflow
        assert not fast.overflowed and not fast.wakeup.is_set()
        assert [event.data for event in drain(fast.queue)] == [0, 1, 2, 3, 4]
        assert hub.subscriber_count == 1
        assert hub.published == 5

    run(body)


def test_the_overflow_wakeup_reaches_a_subscriber_waiting_on_it() -> None:
    async def body() -> None:
        hub = EventHub(queue_size=1)
        subscription = hub.subscribe()
        woken = asyncio.create_task(subscription.wakeup.wait())
        await asyncio.sleep(0)  # one loop turn: the task is now waiting
        assert not woken.done()

        hub.publish(Event("stats", 1))
        assert not subscription.overflowed and not subscription.wakeup.is_set()  # one event fits
        hub.publish(Event("stats", 2))

        assert await woken is True
        assert subscription.overflowed

    run(body)


def test_the_hub_queue_size_is_the_default() -> None:
    async def body() -> None:
        hub = EventHub(queue_size=3)
        subscription = hub.subscribe()
        assert subscription.queue.maxsize == 3
        assert hub.subscribe(queue_size=7).queue.maxsize == 7

    run(body)


def test_a_filter_sees_each_event_and_only_accepted_ones_are_queued() -> None:
    async def body() -> None:
        hub = EventHub(queue_size=1)
        seen: list[Event] = []

        def only_alice(event: Event) -> bool:
            seen.append(event)
            return bool(event.subject == "alice")

        filtered = hub.subscribe(only_alice)
        everything = hub.subscribe(queue_size=10)
        for subject in ["bob", "alice", "carol"]:
            hub.publish(Event("message.new", {"to": subject}, subject))

        assert [event.subject for event in seen] == ["bob", "alice", "carol"]
        assert [event.subject for event in drain(filtered.queue)] == ["alice"]
        # Rejected events take no room: a one-slot queue did not overflow on three events.
        assert not filtered.overflowed
        assert len(drain(everything.queue)) == 3

    run(body)


def test_close_and_the_context_manager_unsubscribe() -> None:
    async def body() -> None:
        hub = EventHub()
        closed = hub.subscribe()
        with hub.subscribe() as scoped:
            assert hub.subscriber_count == 2
        closed.close()
        closed.close()  # closing twice is harmless

        hub.publish(Event("messages.cleared", None))

        assert hub.subscriber_count == 0
        assert closed.queue.empty() and scoped.queue.empty()
        assert hub.published == 1

    run(body)


def test_a_subscriber_may_close_itself_from_its_filter() -> None:
    async def body() -> None:
        hub = EventHub()
        subscriptions: list[Any] = []

        def once(event: Event) -> bool:
            subscriptions[0].close()
            return True

        subscriptions.append(hub.subscribe(once))
        other = hub.subscribe()
        hub.publish(Event("stats", 1))
        hub.publish(Event("stats", 2))

        assert [event.data for event in drain(subscriptions[0].queue)] == [1]
        assert [event.data for event in drain(other.queue)] == [1, 2]

    run(body)


@pytest.mark.parametrize("listeners", [0, 1])
def test_publish_new_builds_the_payload_only_for_listeners(listeners: int) -> None:
    async def body() -> None:
        hub = EventHub()
        subscriptions = [hub.subscribe() for _ in range(listeners)]
        built: list[str] = []

        def payload() -> dict[str, str]:
            built.append("built")
            return {"id": "m1"}

        hub.publish_new("message.new", payload, subject="summary")

        assert hub.published == 1
        assert len(built) == listeners
        for subscription in subscriptions:
            (event,) = drain(subscription.queue)
            assert event == Event("message.new", {"id": "m1"}, "summary")

    run(body)


def test_an_overflowed_subscriber_can_subscribe_afresh() -> None:
    async def body() -> None:
        hub = EventHub(queue_size=1)
        dropped = hub.subscribe()
        hub.publish(Event("stats", 1))
        hub.publish(Event("stats", 2))
        assert dropped.overflowed and hub.subscriber_count == 0

        again = hub.subscribe()
        hub.publish(Event("stats", 3))

        assert [event.data for event in drain(again.queue)] == [3]
        assert [event.data for event in drain(dropped.queue)] == [1]

    run(body)
