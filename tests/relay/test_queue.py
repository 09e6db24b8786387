"""The store-and-forward queue with a clock the test moves: the backoff schedule, 5xx and the retry limit
ending an item as failed, recipients answered 4xx retried alone, and what --relay-auto picks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from mailtrap_lite.events import EventHub
from mailtrap_lite.model import Arrival, Envelope, Recipient, RelayItem, Session
from mailtrap_lite.relay.relayer import Relayer
from mailtrap_lite.service import MailService
from mailtrap_lite.store.base import Retention
from mailtrap_lite.store.memory import MemoryStore
from tests.conftest import free_config
from tests.relay.clock import ManualClock, eventually
from tests.relay.helpers import RAW, api_of, relaying, running

START = 1_800_000_000.0
MINUTE = 60.0


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


def fault(upstream: MailServer, **rule: Any) -> None:
    with api_of(upstream) as up:
        assert up.post("/api/faults", json=rule).status_code == 201


def upstream_messages(upstream: MailServer) -> list[dict[str, Any]]:
    with api_of(upstream) as up:
        found: list[dict[str, Any]] = up.get("/api/messages").json()["messages"]
        return found


class Harness:
    """A relaying MailService on the test's own loop (memory store) with a manual clock."""

    def __init__(self, config: Config) -> None:
        self.clock = ManualClock(START)
        self.store = MemoryStore()
        self.service = MailService(self.store, EventHub(), Retention(None, None))
        self.relayer = Relayer(config, self.service, self.clock)

    async def deliver(self, recipients: tuple[str, ...] = ("ann@example.com",)) -> str:
        session = Session("s1", "127.0.0.1:1", datetime.now(UTC))
        envelope = Envelope("app@example.com", (), tuple(Recipient(a, 250, "OK") for a in recipients))
        summary = await self.service.ingest(Arrival(f"m{len(await self.items())}x", RAW, envelope, session))
        return summary.id

    async def items(self) -> list[RelayItem]:
        return await self.store.relay_items()

    async def asleep_until(self, moment: float, what: str) -> None:
        await eventually(lambda: self.clock.asleep_until == moment, what)


def run(config: Config, scenario: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        harness = Harness(config)
        await harness.relayer.start()
        try:
            await scenario(harness)
        finally:
            await harness.relayer.close()
            await harness.service.close()
            await harness.store.close()

    asyncio.run(main())


def test_backoff_schedule_1_2_4_minutes_then_sent(upstream: MailServer) -> None:
    fault(upstream, stage="rcpt", code=451, times=3)
    config = relaying(upstream, relay_auto="", relay_retries=5, relay_retry_base=MINUTE)

    async def scenario(h: Harness) -> None:
        message_id = await h.deliver()
        # First try at once, then 1, 2 and 4 minutes after each failure.
        await h.asleep_until(START + 1 * MINUTE, "the first retry to be scheduled")
        assert [(i.attempts, i.state, i.last_code) for i in await h.items()] == [(1, "queued", 451)]
        h.clock.advance(59)
        await asyncio.sleep(0.05)
        assert (await h.items())[0].attempts == 1  # not due yet
        h.clock.advance(1)
        await h.asleep_until(START + 3 * MINUTE, "the second retry")
        h.clock.advance(2 * MINUTE)
        await h.asleep_until(START + 7 * MINUTE, "the third retry")
        assert (await h.items())[0].attempts == 3
        h.clock.advance(4 * MINUTE)
        await h.asleep_until(float("inf"), "the queue to empty")
        assert await h.items() == []
        summary = await h.service.summary(message_id)
        assert [(r.result, r.code, r.trigger) for r in summary.releases] == [
            ("deferred", 451, "auto"),
            ("deferred", 451, "auto"),
            ("deferred", 451, "auto"),
            ("sent", 250, "auto"),
        ]

    run(config, scenario)
    assert len(upstream_messages(upstream)) == 1


def test_a_5xx_fails_at_once(upstream: MailServer) -> None:
    fault(upstream, stage="data", code=554)
    config = relaying(upstream, relay_auto="")

    async def scenario(h: Harness) -> None:
        await h.deliver()
        await eventually(lambda: h.store._relay_items and _only(h).state == "failed", "the item to fail")
        item = _only(h)
        assert (item.attempts, item.last_code, item.next_at) == (1, 554, None)
        await h.asleep_until(float("inf"), "the queue to rest")

    run(config, scenario)


def test_the_retry_limit_ends_as_failed(upstream: MailServer) -> None:
    fault(upstream, stage="mail", code=421)
    config = relaying(upstream, relay_auto="", relay_retries=2, relay_retry_base=MINUTE)

    async def scenario(h: Harness) -> None:
        await h.deliver()
        await h.asleep_until(START + MINUTE, "the retry")
        h.clock.advance(MINUTE)
        await eventually(lambda: _only(h).state == "failed", "the limit")
        assert (_only(h).attempts, _only(h).last_code) == (2, 421)

    run(config, scenario)


def test_a_connection_failure_is_retried(upstream: MailServer) -> None:
    fault(upstream, stage="connect", action="disconnect", times=1)
    config = relaying(upstream, relay_auto="", relay_retry_base=MINUTE)

    async def scenario(h: Harness) -> None:
        await h.deliver()
        await h.asleep_until(START + MINUTE, "the retry")
        assert _only(h).last_code is None and _only(h).last_error
        h.clock.advance(MINUTE)
        await h.asleep_until(float("inf"), "the queue to empty")
        assert await h.items() == []

    run(config, scenario)


def test_recipients_answered_4xx_are_retried_alone(upstream: MailServer) -> None:
    fault(upstream, stage="rcpt", code=452, match="bob@*", times=1)
    config = relaying(upstream, relay_auto="", relay_retry_base=MINUTE)

    async def scenario(h: Harness) -> None:
        await h.deliver(("ann@example.com", "bob@example.com"))
        await h.asleep_until(START + MINUTE, "bob's retry")
        assert _only(h).to == ("bob@example.com",)
        h.clock.advance(MINUTE)
        await h.asleep_until(float("inf"), "the queue to empty")

    run(config, scenario)
    arrived = [[r["address"] for r in m["envelope"]["recipients"]] for m in upstream_messages(upstream)]
    assert sorted(arrived) == [["ann@example.com", "bob@example.com"], ["bob@example.com"]]
    assert [r["code"] for r in upstream_messages(upstream)[1]["envelope"]["recipients"]] == [250, 452]


def test_auto_relay_takes_matching_messages_and_allowed_recipients_only(upstream: MailServer) -> None:
    config = relaying(upstream, relay_auto="subject:release", relay_allow=("*@corp.example",))

    async def scenario(h: Harness) -> None:
        await h.deliver(("ann@corp.example", "eve@elsewhere.example"))
        await eventually(lambda: len(upstream_messages(upstream)) == 1, "the relay")
        await h.asleep_until(float("inf"), "the queue to empty")

    run(config, scenario)
    (arrived,) = upstream_messages(upstream)
    assert [r["address"] for r in arrived["envelope"]["recipients"]] == ["ann@corp.example"]


def test_auto_relay_skips_messages_that_do_not_match(upstream: MailServer) -> None:
    config = relaying(upstream, relay_auto="subject:invoice")

    async def scenario(h: Harness) -> None:
        message_id = await h.deliver()
        await h.asleep_until(float("inf"), "the queue to rest")
        assert await h.items() == []
        assert (await h.service.summary(message_id)).releases == ()

    run(config, scenario)
    with api_of(upstream) as up:
        assert up.get("/api/sessions").json()["total"] == 0


def test_the_250_never_waits_for_the_relay(upstream: MailServer) -> None:
    """The next hop holds the connection; the inbound client gets its 250 and the item waits queued."""
    fault(upstream, stage="connect", action="delay", delay_ms=15_000, times=1)
    with running(relaying(upstream, relay_auto="")) as relay, api_of(relay) as api:
        from tests.relay.helpers import send

        send(relay)
        items = api.get("/api/relay/queue").json()["items"]
        assert len(items) == 1 and items[0]["attempts"] == 0  # the attempt is still waiting upstream
        assert upstream_messages(upstream) == []


def test_queue_api_retry_and_drop(upstream: MailServer) -> None:
    fault(upstream, stage="data", code=550, times=1)
    with running(relaying(upstream, relay_auto="")) as relay, api_of(relay) as api:
        from tests.relay.helpers import send, wait_until

        send(relay)
        (item,) = wait_until(lambda: _failed(api), what="the item to fail")
        assert item["last_code"] == 550
        retried = api.post(f"/api/relay/queue/{item['id']}/retry")
        assert retried.status_code == 200 and retried.json()["state"] == "queued"
        wait_until(lambda: api.get("/api/relay/queue").json()["items"] == [], what="the retry to succeed")
        assert len(upstream_messages(upstream)) == 1
        fault(upstream, stage="data", code=550, times=1)
        send(relay)
        (item,) = wait_until(lambda: _failed(api), what="the second item to fail")
        assert api.delete(f"/api/relay/queue/{item['id']}").status_code == 204
        assert api.get("/api/relay/queue").json()["items"] == []
        assert api.delete(f"/api/relay/queue/{item['id']}").status_code == 404
        assert api.post("/api/relay/queue/nope/retry").status_code == 404


def _failed(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/api/relay/queue").json()["items"]
    return [item for item in items if item["state"] == "failed"]


def _only(h: Harness) -> RelayItem:
    (item,) = h.store._relay_items.values()
    return item
