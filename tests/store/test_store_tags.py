"""The Store protocol's tag guarantees, run unchanged against every backend: ingest with the arrival's tags
and the tag rules, the tag index behind ``tag:``, counting, and changing tags across messages."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mailtrap_lite.model import Arrival, Envelope, Recipient, StoredMessage
from mailtrap_lite.search import Query, parse_query
from mailtrap_lite.store import MemoryStore, Store
from mailtrap_lite.store.base import TagCount
from mailtrap_lite.store.sqlite import SQLiteStore
from mailtrap_lite.store.sqlite_schema import MIGRATIONS
from mailtrap_lite.tags import MAX_TAGS, TagRule, parse_rule
from tests.pg.cluster import fresh_pg
from tests.store.helpers import new_message, new_session, run
from tests.test_search import q

RULES = (parse_rule("welcome=subject:welcome"), parse_rule("shop=from:shop.example"))

TaggingStoreFactory = Callable[[tuple[TagRule, ...]], Store]


@pytest.fixture(params=["memory", "sqlite", "sqlite-not-indexing", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> TaggingStoreFactory:
    """A factory of stores made with tag rules; for SQLite and PostgreSQL every store it makes opens the
    same database."""
    if request.param == "memory":
        return lambda rules=(): MemoryStore(tag_rules=rules)
    if request.param == "postgresql":
        from mailtrap_lite.store.postgres import PostgresStore

        dsn = fresh_pg(request, trigrams=True)
        return lambda rules=(): PostgresStore(dsn, tag_rules=rules)
    index_when_idle = request.param == "sqlite"
    return lambda rules=(): SQLiteStore(tmp_path / "x.db", index_when_idle=index_when_idle, tag_rules=rules)


def tagged(stored: StoredMessage, *tags: str) -> StoredMessage:
    return dataclasses.replace(stored, summary=dataclasses.replace(stored.summary, tags=tags))


def arrival(number: int, subject: str, sender: str, tags: tuple[str, ...]) -> Arrival:
    raw = f"From: {sender}\r\nTo: ann@example.com\r\nSubject: {subject}\r\n\r\nHello\r\n".encode()
    envelope = Envelope(sender, recipients=(Recipient("ann@example.com", 250, "OK"),))
    return Arrival(f"m{number:04d}", raw, envelope, new_session(), tags=tags)


async def retag(store: Store, query: Query | None, **change: tuple[str, ...]) -> list[str]:
    """``store.retag``'s changed ids, after checking that it names each message's mailbox."""
    changed = await store.retag(query, **change)
    for message_id, mailbox in changed:
        summary = await store.get_summary(message_id)
        assert summary is not None and summary.mailbox == mailbox
    return [message_id for message_id, _ in changed]


async def ids(store: Store, text: str | None) -> list[str]:
    return [m.id for m in (await store.list_messages(q(text) if text else None)).messages]


def test_ingest_stores_the_arrival_tags_then_the_rules_that_match(make_store: TaggingStoreFactory) -> None:
    async def scenario(store: Store) -> None:
        first = await store.ingest(arrival(1, "Welcome!", "app@shop.example", ("vip",)))
        assert first.summary.tags == ("vip", "welcome", "shop")
        second = await store.ingest(arrival(2, "Invoice", "billing@other.example", ()))
        assert second.summary.tags == ()
        big = await store.ingest(arrival(3, "Welcome " + "x" * 300_000, "a@b.example", ()))
        assert big.summary.tags == ("welcome",)  # parsed off the loop, tagged all the same
        assert (await store.get_summary("m0001")) == first.summary
        assert await ids(store, "tag:welcome") == ["m0003", "m0001"]
        assert await ids(store, "is:untagged") == ["m0002"]

    run(make_store(RULES), scenario)


def test_tag_search_lists_newest_first_whatever_order_tags_were_given(
    make_store: TaggingStoreFactory,
) -> None:
    session = new_session()
    messages = [new_message(session, n) for n in range(6)]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(tagged(stored, "even") if stored.summary.id[-1] in "024" else stored, session)
        await store.update("m0005", tags=("Even", "late"))
        await store.update("m0001", tags=("even",))
        await store.update("m0002", tags=())
        assert await ids(store, "tag:even") == ["m0005", "m0004", "m0001", "m0000"]
        assert await ids(store, "tag:EVEN tag:late") == ["m0005"]
        assert await ids(store, "tag:even -tag:late subject:4") == ["m0004"]
        assert await ids(store, "tag:nothing") == []
        assert await ids(store, "is:tagged") == ["m0005", "m0004", "m0001", "m0000"]
        await store.update("m0001", read=True)
        paged = await store.list_messages(q("tag:even"), limit=2, offset=1)
        assert (paged.total, paged.unread, [m.id for m in paged.messages]) == (4, 3, ["m0004", "m0001"])
        assert (await store.list_messages(q("tag:even -is:read"))).unread == 3
        await store.delete(["m0004"])
        assert await ids(store, "tag:even") == ["m0005", "m0001", "m0000"]
        await store.delete_matching(q("tag:late"))
        assert await ids(store, "tag:even") == ["m0001", "m0000"]

    run(make_store(()), scenario)


def test_tag_counts_by_name_for_everything_or_a_query(make_store: TaggingStoreFactory) -> None:
    session = new_session()
    messages = [
        tagged(new_message(session, 0, subject="a"), "Billing", "x y"),
        tagged(new_message(session, 1, subject="b"), "billing"),
        tagged(new_message(session, 2, subject="a"), "urgent", "BILLING", "billing"),
        new_message(session, 3),
    ]

    async def scenario(store: Store) -> None:
        assert await store.tag_counts() == []
        for stored in messages:
            await store.add(stored, session)
        assert await store.tag_counts() == [TagCount("billing", 3), TagCount("urgent", 1), TagCount("x y", 1)]
        assert await store.tag_counts(q("subject:a")) == [
            TagCount("billing", 2),
            TagCount("urgent", 1),
            TagCount("x y", 1),
        ]
        assert await store.tag_counts(q("mailbox:nowhere")) == []
        await store.delete(["m0002"])
        assert await store.tag_counts() == [TagCount("billing", 2), TagCount("x y", 1)]

    run(make_store(()), scenario)


def test_retag_adds_and_removes_on_every_match(make_store: TaggingStoreFactory) -> None:
    session = new_session()
    messages = [
        tagged(new_message(session, 0), "old", "keep"),
        tagged(new_message(session, 1), "old", "new"),
        tagged(new_message(session, 2), "keep"),
        new_message(session, 3),
    ]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        # Rename: the messages that had the tag, newest first; one already had the new name.
        assert await retag(store, q("tag:old"), add=("new",), remove=("old",)) == ["m0001", "m0000"]
        assert [(await store.get_summary(f"m000{n}")) for n in range(2)] == [
            dataclasses.replace(messages[0].summary, tags=("keep", "new"), uid=1),
            dataclasses.replace(messages[1].summary, tags=("new",), uid=2),
        ]
        assert await ids(store, "tag:old") == []
        assert await store.tag_counts() == [TagCount("keep", 2), TagCount("new", 2)]
        # Add to all: only the messages that lacked it change.
        assert await retag(store, None, add=("all",)) == ["m0003", "m0002", "m0001", "m0000"]
        assert await retag(store, None, add=("all",)) == []
        # Delete everywhere.
        assert await retag(store, q("tag:keep"), remove=("keep",)) == ["m0002", "m0000"]
        assert await ids(store, "tag:keep") == []
        assert (await store.get_summary("m0002")) == dataclasses.replace(
            messages[2].summary, tags=("all",), uid=3
        )
        assert await retag(store, q("subject:nothing"), add=("x",)) == []
        # Reading state is left alone.
        assert (await store.stats()).unread == 4

    run(make_store(()), scenario)


def test_retag_keeps_at_most_max_tags(make_store: TaggingStoreFactory) -> None:
    session = new_session()
    full = tagged(new_message(session, 0), *(f"t{n}" for n in range(MAX_TAGS)))

    async def scenario(store: Store) -> None:
        await store.add(full, session)
        assert await retag(store, None, add=("one-more",)) == []
        assert await retag(store, None, add=("one-more",), remove=("t0",)) == ["m0000"]
        summary = await store.get_summary("m0000")
        assert summary is not None and summary.tags[-1] == "one-more" and len(summary.tags) == MAX_TAGS

    run(make_store(()), scenario)


def test_tags_survive_reopening(tmp_path: Path) -> None:
    session = new_session()

    async def first(store: Store) -> None:
        await store.add(tagged(new_message(session, 0), "kept"), session)
        await store.update("m0000", tags=("kept", "later"))

    async def second(store: Store) -> tuple[list[str], list[TagCount]]:
        return await ids(store, "tag:later"), await store.tag_counts()

    run(SQLiteStore(tmp_path / "x.db"), first)
    found = run(SQLiteStore(tmp_path / "x.db"), second)
    assert found == (["m0000"], [TagCount("kept", 1), TagCount("later", 1)])


def test_migration_indexes_the_tags_of_messages_stored_before(tmp_path: Path) -> None:
    """A database written before the tag index finds its tagged messages through it after upgrading."""
    path = tmp_path / "old.db"
    session = new_session()

    async def fill(store: Store) -> None:
        await store.add(tagged(new_message(session, 0), "Alpha", "two words"), session)
        await store.add(new_message(session, 1), session)
        await store.add(tagged(new_message(session, 2), "alpha"), session)

    run(SQLiteStore(path), fill)
    db = sqlite3.connect(path)
    version = len(MIGRATIONS)
    tag_migration = next(n for n, script in enumerate(MIGRATIONS, 1) if "message_tags" in script)
    # Back to the version before the tag index: undo it, and the migration after it (IMAP's UIDVALIDITY).
    assert tag_migration == version - 1 and "uid_validity" in MIGRATIONS[-1]
    db.executescript(
        "DROP TRIGGER message_tags_deleted; DROP TABLE message_tags; "
        "ALTER TABLE counters DROP COLUMN uid_validity; "
        f"PRAGMA user_version = {tag_migration - 1};"
    )
    db.close()

    async def read(store: Store) -> tuple[list[str], list[TagCount]]:
        return await ids(store, "tag:alpha"), await store.tag_counts()

    found, counts = run(SQLiteStore(path), read)
    assert found == ["m0002", "m0000"]
    assert counts == [TagCount("alpha", 2), TagCount("two words", 1)]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == version


def test_the_tag_index_answers_a_tag_search(tmp_path: Path) -> None:
    """SQLite reads a tag's messages through the index, not by scanning every message."""
    session = new_session()

    async def fill(store: Store) -> None:
        await store.add(tagged(new_message(session, 0), "x"), session)

    run(SQLiteStore(tmp_path / "x.db"), fill)
    from mailtrap_lite.store.sqlite_db import where_clause

    where, params = where_clause(parse_query("tag:x"))
    db = sqlite3.connect(tmp_path / "x.db")
    plan = " ".join(
        str(row[-1])
        for row in db.execute(f"EXPLAIN QUERY PLAN SELECT id FROM messages WHERE {where}", params)
    )
    assert "message_tags" in plan and "SCAN messages" not in plan, plan
