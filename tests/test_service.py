"""MailService over the real MemoryStore and EventHub, without sockets and without sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from mailtrap_lite.errors import NotFound
from mailtrap_lite.events import Event, EventHub
from mailtrap_lite.model import Arrival, Envelope, Recipient, Reply
from mailtrap_lite.search import parse_query as parse
from mailtrap_lite.service import MailService
from mailtrap_lite.session_log import SessionLog
from mailtrap_lite.smtp.transcript import TranscriptRecorder
from mailtrap_lite.store import MemoryStore, Retention

T = TypeVar("T")
UNLIMITED = Retention(max_messages=None, max_age_seconds=None)


def run(scenario: Callable[[MailService], Awaitable[T]], retention: Retention = UNLIMITED) -> T:
    async def main() -> T:
        store = MemoryStore()
        await store.open()
        try:
            return await scenario(MailService(store, EventHub(), retention))
        finally:
            await store.close()

    return asyncio.run(main())


class Client:
    """One SMTP connection as the protocol drives its session log."""

    def __init__(self, service: MailService) -> None:
        self.service = service
        self.transcript = TranscriptRecorder()
        self.log = SessionLog("127.0.0.1:40000", self.transcript)
        self.transcript.server("220 mailtrap-lite ESMTP")
        service.session_started(self.log)

    async def send(self, message_id: str, subject: str, to: str = "ann@example.com") -> Arrival:
        self.transcript.client(f"MAIL FROM:<app@example.com>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode())
        raw = f"From: app@example.com\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello.\r\n".encode()
        envelope = Envelope(
            "app@example.com", recipients=(Recipient(to, 250, "2.1.5 Ok"),), data=Reply(250, "2.0.0 Ok")
        )
        arrival = Arrival(message_id, raw, envelope, self.log.snapshot(message_ids=False))
        await self.service.ingest(arrival)
        self.log.delivered(message_id)
        return arrival

    async def quit(self) -> None:
        self.transcript.client(b"QUIT\r\n")
        await self.service.session_ended(self.log.end())


def test_ingest_stores_counts_and_announces_the_message() -> None:
    async def scenario(service: MailService) -> None:
        client = Client(service)
        with service.subscribe(lambda event: True) as events:
            await client.send("m1", "Hello there")
            event = events.queue.get_nowait()
        assert (event.type, event.data["id"], event.data["subject"]) == ("message.new", "m1", "Hello there")
        page = await service.list_messages(None, 10, 0)
        assert [m.id for m in page.messages] == ["m1"] and page.unread == 1
        assert (await service.summary("latest")).id == "m1"
        assert (await service.raw("m1"))[1].endswith(b"Hello.\r\n")
        assert (await service.message("m1")).text == "Hello.\n"
        stats = await service.stats()
        assert (stats.received, stats.open_sessions, stats.store.messages) == (1, 1, 1)
        assert stats.received_bytes == len((await service.raw("m1"))[1])

    run(scenario)


def test_a_live_session_is_read_from_its_log_and_an_ended_one_from_the_store() -> None:
    async def scenario(service: MailService) -> None:
        client = Client(service)
        arrival = await client.send("m1", "first")
        await client.send("m2", "second")
        live = await service.session(client.log.id)
        assert live.message_ids == ("m1", "m2") and live.ended_at is None
        # What the store was handed with the first message did not grow with the log.
        assert len(arrival.session.transcript) < len(live.transcript)
        assert arrival.session.message_ids == ()
        total, listed = await service.list_sessions(10, 0)
        assert total == 1 and listed == [live]
        await client.quit()
        assert service.live_sessions == {}
        stored = await service.session(client.log.id)
        assert stored.ended_at is not None and stored.message_ids == ("m1", "m2")
        assert stored.transcript[-1].line == "QUIT"
        with pytest.raises(NotFound):
            await service.session("nope")

    run(scenario)


def test_wait_matching_is_woken_by_the_arrival_it_waits_for() -> None:
    async def scenario(service: MailService) -> None:
        client = Client(service)
        await client.send("m1", "unrelated")
        waiter = asyncio.create_task(service.wait_matching(parse("subject:invoice"), 1, timeout=60))
        while service.hub.subscriber_count == 0:  # let the waiter subscribe and list once
            await asyncio.sleep(0)
        assert not waiter.done()
        await client.send("m2", "your invoice")
        page, enough = await waiter
        assert enough and [m.id for m in page.messages] == ["m2"]
        page, enough = await service.wait_matching(parse("subject:refund"), 1, timeout=0)
        assert not enough and page.total == 0
        assert service.hub.subscriber_count == 0

    run(scenario)


def test_update_and_delete_change_the_store_and_say_so() -> None:
    async def scenario(service: MailService) -> None:
        client = Client(service)
        for n in range(3):
            await client.send(f"m{n}", f"message {n} invoice" if n else "message 0")
        seen: list[Event] = []
        with service.subscribe(lambda event: True) as events:
            updated = await service.update("latest", read=True, tags=("kept",))
            await service.delete("m0")
            deleted = await service.delete_matching(parse("subject:invoice"))
            while not events.queue.empty():
                seen.append(events.queue.get_nowait())
        assert updated.id == "m2" and updated.read and updated.tags == ("kept",)
        assert deleted == ["m2", "m1"]
        assert [(e.type, e.data.get("ids")) for e in seen] == [
            ("message.updated", None),
            ("message.deleted", ["m0"]),
            ("message.deleted", ["m2", "m1"]),
        ]
        with pytest.raises(NotFound):
            await service.delete("m0")
        with pytest.raises(NotFound):
            await service.summary("latest")

    run(scenario)


def test_prune_applies_retention_only_when_something_was_added() -> None:
    async def scenario(service: MailService) -> None:
        client = Client(service)
        for n in range(5):
            await client.send(f"m{n}", f"message {n}")
        with service.subscribe(lambda event: True) as events:
            assert await service.prune() == ["m0", "m1", "m2"]
            assert await service.prune() == []  # nothing added since
            event = events.queue.get_nowait()
            assert events.queue.empty()
        assert (event.type, event.data) == (
            "message.deleted",
            {"ids": ["m0", "m1", "m2"], "reason": "retention"},
        )
        assert [m.id for m in (await service.list_messages(None, 10, 0)).messages] == ["m4", "m3"]

    run(scenario, Retention(max_messages=2, max_age_seconds=None))


def test_rejections_are_counted_by_reason_and_readiness_follows_the_store() -> None:
    async def scenario(service: MailService) -> None:
        service.record_rejection("too big")
        service.record_rejection("fault")
        service.record_rejection("too big")
        stats = await service.stats()
        assert stats.rejected_by_reason == {"too big": 2, "fault": 1} and stats.rejected == 3
        assert (await service.ready()).ready

    run(scenario)
