"""ReadCache and the service reads over it, without sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from mailtrap_lite.errors import NotFound
from mailtrap_lite.events import EventHub
from mailtrap_lite.model import Arrival, Envelope, Recipient, Reply, Session
from mailtrap_lite.read_cache import ReadCache
from mailtrap_lite.service import MailService
from mailtrap_lite.store import MemoryStore, Retention


class Loads:
    """A loader that counts its calls and finishes only when released."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    def of(self, value: str, size: int) -> Callable[[], Awaitable[tuple[str, int]]]:
        async def load() -> tuple[str, int]:
            self.calls += 1
            await self.release.wait()
            return value, size

        return load


def test_concurrent_gets_share_one_load_and_the_next_get_loads_nothing() -> None:
    async def main() -> None:
        cache: ReadCache[str] = ReadCache(max_bytes=100)
        loads = Loads()
        waiting = [asyncio.ensure_future(cache.get("m1", "p", loads.of("v", 10))) for _ in range(6)]
        await asyncio.sleep(0)
        loads.release.set()
        assert await asyncio.gather(*waiting) == ["v"] * 6
        assert await cache.get("m1", "p", loads.of("other", 10)) == "v"
        assert loads.calls == 1
        assert cache.bytes == 10

    asyncio.run(main())


def test_a_cancelled_caller_does_not_cancel_the_load_others_wait_for() -> None:
    async def main() -> None:
        cache: ReadCache[str] = ReadCache(max_bytes=100)
        loads = Loads()
        first = asyncio.ensure_future(cache.get("m1", "p", loads.of("v", 1)))
        second = asyncio.ensure_future(cache.get("m1", "p", loads.of("v", 1)))
        await asyncio.sleep(0)
        first.cancel()
        loads.release.set()
        assert await second == "v"
        assert first.cancelled()
        assert len(cache) == 1

    asyncio.run(main())


def test_least_recently_used_entries_go_first_when_over_the_byte_bound() -> None:
    async def main() -> None:
        cache: ReadCache[str] = ReadCache(max_bytes=100)
        loads = Loads()
        loads.release.set()
        await cache.get("a", 0, loads.of("a", 40))
        await cache.get("b", 0, loads.of("b", 40))
        await cache.get("a", 0, loads.of("a", 40))  # a is now the most recent
        await cache.get("c", 0, loads.of("c", 40))
        assert cache.bytes == 80
        assert loads.calls == 3
        assert await cache.get("a", 0, loads.of("a2", 40)) == "a"
        assert await cache.get("b", 0, loads.of("b2", 40)) == "b2"  # evicted, loaded again
        await cache.get("huge", 0, loads.of("h", 101))
        assert len(cache) == 2 and cache.bytes == 80  # too large to keep, but served

    asyncio.run(main())


def test_invalidate_drops_entries_and_a_load_under_way_is_not_kept() -> None:
    async def main() -> None:
        cache: ReadCache[str] = ReadCache(max_bytes=100)
        done = Loads()
        done.release.set()
        await cache.get("m1", "x", done.of("x", 5))
        await cache.get("m1", "y", done.of("y", 5))
        await cache.get("m2", "x", done.of("z", 5))
        slow = Loads()
        pending = asyncio.ensure_future(cache.get("m3", "x", slow.of("stale", 5)))
        await asyncio.sleep(0)
        cache.invalidate(["m1", "m3"])
        slow.release.set()
        assert await pending == "stale"  # its caller still gets an answer
        assert len(cache) == 1 and cache.bytes == 5
        assert await cache.get("m3", "x", done.of("fresh", 5)) == "fresh"

    asyncio.run(main())


def test_a_failed_load_is_not_kept() -> None:
    async def main() -> None:
        cache: ReadCache[str] = ReadCache(max_bytes=100)

        async def fail() -> tuple[str, int]:
            raise NotFound("gone")

        with pytest.raises(NotFound):
            await cache.get("m1", "x", fail)
        assert len(cache) == 0

    asyncio.run(main())


NESTED = (
    b"From: a@example.com\r\nSubject: nest\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="a.bin"\r\n\r\nAAECAw==\r\n--b--\r\n'
)


def test_service_reads_parse_once_show_the_current_summary_and_forget_deleted_messages() -> None:
    async def main() -> None:
        store = MemoryStore()
        service = MailService(store, EventHub(), Retention(max_messages=None, max_age_seconds=None))
        envelope = Envelope("a@example.com", (Recipient("b@example.com", 250, "ok"),), data=Reply(250, "ok"))
        session = Session(id="s1", peer="127.0.0.1:1", started_at=datetime.now(UTC))
        await service.ingest(Arrival("m1", NESTED, envelope, session))
        first = await service.message("m1")
        assert first.summary.read is False
        await service.update("m1", read=True, tags=("seen",))
        again = await service.message("m1")
        assert again.summary.read is True and again.summary.tags == ("seen",)
        assert again.parts == first.parts
        assert await service.part("m1", "2") == ("application/octet-stream", "a.bin", b"\x00\x01\x02\x03")
        assert len(service.read_cache) == 2
        with pytest.raises(NotFound):
            await service.part("m1", "9")
        assert len(service.read_cache) == 2
        await service.delete("m1")
        assert len(service.read_cache) == 0
        with pytest.raises(NotFound):
            await service.message("m1")
        await service.close()
        await store.close()

    asyncio.run(main())
