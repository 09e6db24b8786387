"""The Store protocol, run unchanged against both stores so that they cannot drift apart."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailtrap_lite.model import RelayItem, Release, StoredMessage, TranscriptLine, UpstreamReply
from mailtrap_lite.search import compile as compile_query
from mailtrap_lite.search import sql_row_values
from mailtrap_lite.session_log import SessionLog
from mailtrap_lite.smtp.transcript import TranscriptRecorder
from mailtrap_lite.store import MemoryStore, Retention, Store
from mailtrap_lite.store.sqlite import SQLiteStore
from tests.pg.cluster import fresh_pg
from tests.store.helpers import hours_ago, new_message, new_session, run
from tests.test_search import EQUIVALENCE_QUERIES, _corpus, q

# Longer needles than the shared list: these go through the SQLite full-text pre-filter.
FTS_QUERIES = [
    "shop.example",
    "junk.example -order",
    '"thanks for your order"',
    '"ann lee <ann@example.com>"',
    "x.example/a?b=1",
    'from:"cid ö"',
    "rcpt:@example.com",
    "to:billing@shop",
    "subject:invoice 42",
    'subject:"re: your order"',
    "-shop",
    "école -subject:news",
    "ordering",
]

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["memory", "sqlite", "sqlite-not-indexing", "postgresql", "postgresql-no-trgm"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A factory of stores; for SQLite every store it makes opens the same file, for PostgreSQL the same
    database. "sqlite-not-indexing" leaves the full-text index to explicit ``index_now`` calls, so that
    what is and is not indexed is certain; "postgresql-no-trgm" runs where pg_trgm cannot be created."""
    if request.param == "memory":
        return MemoryStore
    if request.param.startswith("postgresql"):
        from mailtrap_lite.store.postgres import PostgresStore

        dsn = fresh_pg(request, trigrams=request.param == "postgresql")
        return lambda: PostgresStore(dsn)
    index_when_idle = request.param == "sqlite"
    return lambda: SQLiteStore(tmp_path / "x.db", index_when_idle=index_when_idle)


def test_add_then_read_back_exactly(make_store: StoreFactory) -> None:
    session = new_session()
    stored = new_message(session, 1)

    async def scenario(store: Store) -> None:
        assert await store.latest_id() is None
        await store.add(stored, session)
        assert await store.get_summary("m0001") == dataclasses.replace(stored.summary, uid=1)
        assert await store.get_raw("m0001") == stored.raw
        assert await store.latest_id() == "m0001"
        assert await store.get_summary("nope") is None
        assert await store.get_raw("nope") is None

    run(make_store(), scenario)


def test_a_raw_stream_gives_the_bytes_in_pieces_even_if_deleted_meanwhile(make_store: StoreFactory) -> None:
    session = new_session()
    small = new_message(session, 1)
    big = dataclasses.replace(new_message(session, 2), raw=bytes(range(256)) * 4096 + b"end")  # ~1 MiB

    async def scenario(store: Store) -> None:
        await store.add(small, session)
        await store.add(big, session)
        assert await store.raw_stream("nope") is None
        stream = await store.raw_stream("m0001")
        assert stream is not None and stream.size == len(small.raw)
        assert b"".join([piece async for piece in stream.chunks]) == small.raw
        stream = await store.raw_stream("m0002")
        assert stream is not None and stream.size == len(big.raw)
        pieces = [await anext(stream.chunks)]
        assert len(pieces[0]) < len(big.raw)  # not all at once
        assert await store.delete(["m0002"]) == ["m0002"]
        # A download under way finishes with the bytes it started with.
        pieces += [piece async for piece in stream.chunks]
        assert b"".join(pieces) == big.raw

    run(make_store(), scenario)


def test_list_pages_newest_first_with_totals(make_store: StoreFactory) -> None:
    session = new_session()
    messages = [new_message(session, n) for n in range(7)]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        await store.update("m0002", read=True)
        first = await store.list_messages(limit=3)
        assert [m.id for m in first.messages] == ["m0006", "m0005", "m0004"]
        assert (first.total, first.unread) == (7, 6)
        last = await store.list_messages(limit=3, offset=6)
        assert [m.id for m in last.messages] == ["m0000"]
        assert (await store.list_messages(offset=7)).messages == ()
        assert await store.latest_id() == "m0006"

    run(make_store(), scenario)


def test_update_read_and_tags(make_store: StoreFactory) -> None:
    session = new_session()
    stored = new_message(session, 1)

    async def scenario(store: Store) -> None:
        await store.add(stored, session)
        changed = await store.update("m0001", read=True, tags=("Signup", "x y"))
        assert changed == dataclasses.replace(stored.summary, read=True, tags=("Signup", "x y"), uid=1)
        assert await store.get_summary("m0001") == changed
        assert (await store.list_messages(q("tag:signup"))).total == 1
        assert (await store.list_messages(q("is:unread"))).total == 0
        assert (await store.stats()).unread == 0
        unread = await store.update("m0001", read=False)
        assert unread is not None and unread.tags == ("Signup", "x y") and not unread.read
        assert (await store.stats()).unread == 1
        for _ in range(2):  # marking twice, or only tagging, does not move the count
            await store.update("m0001", read=True)
            await store.update("m0001", tags=("again",))
        assert ((await store.stats()).unread, (await store.list_messages()).unread) == (0, 0)
        assert await store.update("nope", read=True) is None

    run(make_store(), scenario)


def test_uids_ascend_are_never_reused_and_survive_a_reopen(make_store: StoreFactory) -> None:
    session = new_session()
    messages = [new_message(session, n) for n in range(6)]

    async def first(store: Store) -> tuple[int, list[int]]:
        state = await store.uid_state()
        assert 1 <= state.validity < 2**32 and state.next == 1
        for stored in messages[:3]:
            await store.add(stored, session)
        assert await store.delete(["m0002"]) == ["m0002"]
        page = await store.list_messages()
        uids = [m.uid for m in reversed(page.messages)]
        assert uids == [1, 2]
        assert (await store.uid_state()).next == 4  # the deleted message's UID is not given again
        await store.add(messages[3], session)
        assert (await store.get_summary("m0003")).uid == 4  # type: ignore[union-attr]
        updated = await store.update("m0003", read=True)
        assert updated is not None and updated.uid == 4
        return state.validity, [m.uid for m in reversed((await store.list_messages()).messages)]

    validity, uids = run(make_store(), first)
    assert uids == [1, 2, 4]

    async def again(store: Store) -> tuple[int, list[int]]:
        state = await store.uid_state()
        if state.next == 1:  # a store that keeps nothing starts again, with its own UIDVALIDITY
            return state.validity, []
        await store.add(messages[4], session)
        stored = [m.uid for m in reversed((await store.list_messages()).messages)]
        return state.validity, stored

    validity_after, uids_after = run(make_store(), again)
    if uids_after:
        assert validity_after == validity
        assert uids_after == [1, 2, 4, 5]


def test_releases_and_the_relay_queue(make_store: StoreFactory) -> None:
    session = new_session()
    stored = new_message(session, 1)
    at = datetime(2026, 11, 29, 4, 0, 0, 123456, tzinfo=UTC)
    release = Release(
        at=at,
        to=("ann@example.com",),
        relay="mx.example:25",
        result="deferred",
        code=451,
        trigger="auto",
        mail_from="app@example.com",
        error="try later",
        replies=(UpstreamReply("RCPT TO:<ann@example.com>", 451, "try later"),),
        transcript=(TranscriptLine(0, "S", "220 hi"), TranscriptLine(3, "C", "EHLO me")),
    )
    first = RelayItem("r1", "m0001", ("ann@example.com",), "queued", 0, at, at)
    second = RelayItem("r2", "m0001", ("bob@example.com",), "queued", 0, at + timedelta(seconds=1), at)

    async def scenario(store: Store) -> None:
        await store.add(stored, session)
        await store.save_relay_item(second)
        await store.save_relay_item(first)
        assert await store.relay_items() == [first, second]  # oldest first
        retried = dataclasses.replace(first, attempts=1, next_at=at + timedelta(minutes=1), last_code=451)
        updated = await store.add_release("m0001", release, retried)
        assert updated is not None and updated.releases == (release,)
        assert (await store.get_summary("m0001")) == updated
        assert await store.relay_items() == [retried, second]
        # A release that settles its item as sent removes it, in the same write.
        sent = dataclasses.replace(release, result="sent", code=250, error=None)
        done = await store.add_release("m0001", sent, dataclasses.replace(retried, state="sent"))
        assert done is not None and [r.result for r in done.releases] == ["deferred", "sent"]
        assert await store.relay_items() == [second]
        # The item is settled even when its message is gone.
        assert await store.delete(["m0001"]) == ["m0001"]
        failed = dataclasses.replace(second, state="failed", attempts=1)
        assert await store.add_release("m0001", release, failed) is None
        assert await store.relay_items() == [failed]
        assert await store.delete_relay_item("r2") is True
        assert await store.delete_relay_item("r2") is False
        assert await store.relay_items() == []

    run(make_store(), scenario)


def test_the_relay_queue_outlives_the_store(make_store: StoreFactory) -> None:
    at = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    item = RelayItem("r1", "m0001", ("ann@example.com",), "queued", 2, at, at, 421, "busy")

    async def save(store: Store) -> None:
        await store.save_relay_item(item)

    async def read(store: Store) -> list[RelayItem]:
        return await store.relay_items()

    first = make_store()
    run(first, save)
    if isinstance(first, MemoryStore):
        assert run(first, read) == [item]  # the same object, not a new store
    else:
        assert run(make_store(), read) == [item]


def test_delete_returns_only_what_existed(make_store: StoreFactory) -> None:
    session = new_session()
    messages = [new_message(session, n) for n in range(3)]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        assert await store.delete(["m0001", "nope", "m0001"]) == ["m0001"]
        assert await store.get_summary("m0001") is None
        assert await store.get_raw("m0001") is None
        stats = await store.stats()
        assert (stats.messages, stats.bytes) == (2, messages[0].summary.size + messages[2].summary.size)

    run(make_store(), scenario)


def test_delete_matching_deletes_exactly_the_matches(make_store: StoreFactory) -> None:
    session = new_session()
    messages = [new_message(session, n, subject="Invoice" if n % 3 == 0 else "Hello") for n in range(10)]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        deleted = await store.delete_matching(q("subject:invoice"))
        assert deleted == ["m0009", "m0006", "m0003", "m0000"]
        left = await store.list_messages(limit=100)
        assert [m.id for m in left.messages] == ["m0008", "m0007", "m0005", "m0004", "m0002", "m0001"]
        assert await store.delete_matching(q("subject:invoice")) == []
        assert len(await store.delete_matching(None)) == 6
        assert (await store.stats()).messages == 0

    run(make_store(), scenario)


def test_a_stored_session_is_a_snapshot(make_store: StoreFactory) -> None:
    # The protocol's log goes on growing after a message is stored; the store keeps what it was given,
    # and lists the session's stored messages itself (an arrival's snapshot carries no message ids).
    transcript = TranscriptRecorder()
    log = SessionLog("127.0.0.1:40000", transcript)
    transcript.server("220 hi")
    transcript.client(b"EHLO client.example\r\n")
    log.helo = "client.example"
    arrived = log.snapshot(message_ids=False)
    stored = new_message(arrived, 1)
    empty = new_session("s2")

    async def scenario(store: Store) -> None:
        await store.add(stored, arrived)
        log.delivered("m0001")
        log.helo = "changed.example"
        transcript.client(b"QUIT\r\n")
        kept = await store.get_session(log.id)
        assert kept is not None and kept.message_ids == ("m0001",) and kept.helo == "client.example"
        assert [line.line for line in kept.transcript] == ["220 hi", "EHLO client.example"]
        await store.save_session(empty)
        final = log.end()
        await store.save_session(final)
        total, listed = await store.list_sessions()
        assert total == 2 and [s.id for s in listed] == ["s2", log.id]
        assert listed[1] == final and [line.line for line in final.transcript][-1] == "QUIT"
        assert (await store.list_sessions(limit=1, offset=1))[1] == [final]
        assert await store.get_session("nope") is None
        assert (await store.stats()).sessions == 2

    run(make_store(), scenario)


def test_prune_by_count_drops_the_oldest_and_their_sessions(make_store: StoreFactory) -> None:
    old_session, new_session_ = new_session("old"), new_session("new")
    messages = [new_message(old_session, n) for n in range(3)]
    messages += [new_message(new_session_, n) for n in range(3, 6)]
    empties = [new_session(f"empty{n}") for n in range(5)]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, old_session if stored.summary.session_id == "old" else new_session_)
        for empty in empties:
            await store.save_session(empty)
        pruned = await store.prune(Retention(max_messages=4, max_age_seconds=None))
        assert pruned == ["m0000", "m0001"]
        assert [m.id for m in (await store.list_messages()).messages] == ["m0005", "m0004", "m0003", "m0002"]
        assert await store.get_session("old") is not None  # m0002 still needs it
        pruned = await store.prune(Retention(max_messages=3, max_age_seconds=None))
        assert pruned == ["m0002"]
        assert await store.get_session("old") is None
        total, sessions = await store.list_sessions(limit=100)
        # Sessions that delivered nothing are kept up to the same count, newest first.
        assert [s.id for s in sessions] == ["empty4", "empty3", "empty2", "new"]
        assert total == 4
        assert await store.prune(Retention(max_messages=3, max_age_seconds=None)) == []

    run(make_store(), scenario)


def test_prune_by_age(make_store: StoreFactory) -> None:
    session = new_session()
    ages = [50, 30, 10, 1]
    messages = [new_message(session, n, received_at=hours_ago(age)) for n, age in enumerate(ages)]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        assert await store.prune(Retention(max_messages=None, max_age_seconds=20 * 3600)) == [
            "m0000",
            "m0001",
        ]
        assert await store.get_session("s1") is not None
        both = Retention(max_messages=1, max_age_seconds=5 * 3600)
        assert await store.prune(both) == ["m0002"]
        assert [m.id for m in (await store.list_messages()).messages] == ["m0003"]
        assert await store.prune(Retention(max_messages=None, max_age_seconds=1800)) == ["m0003"]
        assert await store.get_session("s1") is None

    run(make_store(), scenario)


def _search_corpus() -> list[StoredMessage]:
    return [
        StoredMessage(summary=summary, raw=f"Subject: {summary.id}\r\n\r\n".encode(), body_text=body)
        for summary, body in _corpus()
    ]


@pytest.mark.parametrize("text", EQUIVALENCE_QUERIES + FTS_QUERIES)
def test_search_finds_what_the_query_language_defines(make_store: StoreFactory, text: str) -> None:
    corpus = _search_corpus()
    session = new_session()
    query = q(text)
    accept = compile_query(query)
    expected = [m.summary.id for m in reversed(corpus) if accept(sql_row_values(m.summary, m.body_text))]
    expected_unread = sum(1 for m in corpus if m.summary.id in expected and not m.summary.read)

    async def search(store: Store) -> None:
        page = await store.list_messages(query, limit=100)
        assert [m.id for m in page.messages] == expected
        assert (page.total, page.unread) == (len(expected), expected_unread)
        second = await store.list_messages(query, limit=2, offset=1)
        assert [m.id for m in second.messages] == expected[1:3]
        assert second.total == len(expected)

    async def scenario(store: Store) -> None:
        # On SQLite, searched with half of the messages in the full-text index, then with all of them.
        half = len(corpus) // 2
        for stored in corpus[:half]:
            await store.add(stored, session)
        if isinstance(store, SQLiteStore):
            await store.index_now()
        for stored in corpus[half:]:
            await store.add(stored, session)
        await search(store)
        if isinstance(store, SQLiteStore):
            await store.index_now()
            await search(store)
        assert await store.delete_matching(query) == expected
        assert (await store.stats()).messages == len(corpus) - len(expected)

    run(make_store(), scenario)


def test_stats_count_what_is_stored(make_store: StoreFactory) -> None:
    session = new_session()
    messages = [new_message(session, n) for n in range(4)]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        await store.update("m0000", read=True)
        stats = await store.stats()
        assert (stats.kind, stats.messages, stats.unread, stats.sessions) == (store.kind, 4, 3, 1)
        assert stats.bytes == sum(m.summary.size for m in messages)
        if isinstance(store, SQLiteStore):
            assert stats.db_size is not None and stats.db_size > stats.bytes

    run(make_store(), scenario)
