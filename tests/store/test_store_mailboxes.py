"""The Store protocol's mailbox guarantees, run unchanged against every backend: listing one mailbox,
per-mailbox counters, bulk read flags, per-mailbox retention, and sessions that go with their last
message."""

from __future__ import annotations

import dataclasses

from mailtrap_lite.model import Session, StoredMessage
from mailtrap_lite.store import Retention, Store
from tests.store import test_store as conformance
from tests.store.helpers import hours_ago, new_message, new_session, run
from tests.store.test_store import StoreFactory
from tests.test_search import q

make_store = conformance.make_store  # every backend, as in the rest of the conformance suite


def in_mailbox(stored: StoredMessage, mailbox: str, rule: str = "default") -> StoredMessage:
    summary = dataclasses.replace(stored.summary, mailbox=mailbox, mailbox_rule=rule)
    return dataclasses.replace(stored, summary=summary)


def spread(session: Session, boxes: list[str]) -> list[StoredMessage]:
    """Message ``m<n>`` in mailbox ``boxes[n]``."""
    return [in_mailbox(new_message(session, n), box) for n, box in enumerate(boxes)]


async def ids(store: Store, text: str | None, **paging: int) -> list[str]:
    return [m.id for m in (await store.list_messages(q(text) if text else None, **paging)).messages]


def test_one_mailbox_lists_newest_first_with_its_own_counts(make_store: StoreFactory) -> None:
    session = new_session()
    messages = spread(session, ["shop", "ops", "shop", "default", "shop", "ops"])

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        assert await ids(store, "mailbox:shop") == ["m0004", "m0002", "m0000"]
        assert await ids(store, "mailbox:SHOP", limit=1, offset=1) == ["m0002"]
        page = await store.list_messages(q("mailbox:ops"))
        assert (page.total, page.unread) == (2, 2)
        assert page.messages[0].mailbox == "ops"
        await store.update("m0001", read=True)
        page = await store.list_messages(q("mailbox:ops"))
        assert (page.total, page.unread) == (2, 1)
        assert await ids(store, "mailbox:shop subject:message -subject:4") == ["m0002", "m0000"]
        assert await ids(store, "mailbox:shop,ops") == ["m0005", "m0004", "m0002", "m0001", "m0000"]
        assert await ids(store, "-mailbox:shop") == ["m0005", "m0003", "m0001"]
        empty = await store.list_messages(q("mailbox:nowhere"))
        assert (empty.total, empty.unread, empty.messages) == (0, 0, ())

    run(make_store(), scenario)


def test_mailbox_stats_follow_every_change(make_store: StoreFactory) -> None:
    session = new_session()
    messages = spread(session, ["shop", "ops", "shop"])

    async def scenario(store: Store) -> None:
        assert await store.mailbox_stats() == []
        for stored in messages:
            await store.add(stored, session)
        stats = {s.name: s for s in await store.mailbox_stats()}
        assert list(stats) == ["ops", "shop"]
        shop = stats["shop"]
        assert (shop.total, shop.unread) == (2, 2)
        assert shop.size == messages[0].summary.size + messages[2].summary.size
        assert shop.newest == messages[2].summary.received_at
        await store.update("m0002", read=True)
        await store.delete(["m0001"])
        [shop] = await store.mailbox_stats()
        assert (shop.name, shop.total, shop.unread, shop.newest) == (
            "shop",
            2,
            1,
            messages[2].summary.received_at,
        )
        await store.delete(["m0002"])
        assert [(s.total, s.newest) for s in await store.mailbox_stats()] == [
            (1, messages[0].summary.received_at)
        ]

    run(make_store(), scenario)


def test_mark_matching_changes_only_what_matches_and_says_what_changed(make_store: StoreFactory) -> None:
    session = new_session()
    messages = spread(session, ["shop", "ops", "shop", "shop"])

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        await store.update("m0000", read=True)
        assert sorted(await store.mark_matching(q("mailbox:shop"), read=True)) == ["m0002", "m0003"]
        assert await store.mark_matching(q("mailbox:shop"), read=True) == []
        summary = await store.get_summary("m0003")
        assert summary is not None and summary.read
        ops = await store.get_summary("m0001")
        assert ops is not None and not ops.read
        assert (await store.stats()).unread == 1
        assert [(s.name, s.unread) for s in await store.mailbox_stats()] == [("ops", 1), ("shop", 0)]
        assert await ids(store, "is:read mailbox:shop") == ["m0003", "m0002", "m0000"]
        assert sorted(await store.mark_matching(None, read=False)) == ["m0000", "m0002", "m0003"]
        assert (await store.stats()).unread == 4

    run(make_store(), scenario)


def test_retention_applies_to_each_mailbox_with_overrides(make_store: StoreFactory) -> None:
    session = new_session()
    messages = spread(session, ["shop", "ops", "shop", "ops", "shop", "ops", "ci", "ci"])

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        retention = Retention(max_messages=2, max_age_seconds=None, overrides=(("ops", 1, None),))
        assert sorted(await store.prune(retention)) == ["m0000", "m0001", "m0003"]
        assert await ids(store, "mailbox:shop") == ["m0004", "m0002"]
        assert await ids(store, "mailbox:ops") == ["m0005"]
        assert await ids(store, "mailbox:ci") == ["m0007", "m0006"]
        assert await store.prune(retention) == []

    run(make_store(), scenario)


def test_an_age_override_prunes_one_mailbox_only(make_store: StoreFactory) -> None:
    session = new_session()
    old = [in_mailbox(new_message(session, n, received_at=hours_ago(5)), box) for n, box in enumerate("ab")]
    fresh = [in_mailbox(new_message(session, n + 2), box) for n, box in enumerate("ab")]

    async def scenario(store: Store) -> None:
        for stored in old + fresh:
            await store.add(stored, session)
        retention = Retention(max_messages=None, max_age_seconds=None, overrides=(("a", None, 3600),))
        assert retention.ages
        assert await store.prune(retention) == ["m0000"]
        assert await ids(store, None) == ["m0003", "m0002", "m0001"]

    run(make_store(), scenario)


def test_sessions_go_with_their_last_message_whichever_way_it_goes(make_store: StoreFactory) -> None:
    one, two, three, empty = (new_session(name) for name in ("one", "two", "three", "empty"))
    messages = [in_mailbox(new_message(s, n), "shop") for n, s in enumerate([one, one, two, three])]

    async def scenario(store: Store) -> None:
        for stored in messages:
            await store.add(stored, {"one": one, "two": two, "three": three}[stored.summary.session_id])
        await store.save_session(empty)
        await store.delete(["m0000"])
        kept = await store.get_session("one")
        assert kept is not None and kept.message_ids == ("m0001",)  # only messages still stored
        await store.delete(["m0001"])
        assert await store.get_session("one") is None
        await store.delete_matching(q("subject:2"))
        assert await store.get_session("two") is None
        await store.prune(Retention(max_messages=1, max_age_seconds=None))
        assert await store.get_session("three") is not None
        await store.delete_matching(None)
        total, sessions = await store.list_sessions()
        assert (total, [s.id for s in sessions]) == (1, ["empty"])  # it delivered nothing: kept

    run(make_store(), scenario)


def test_a_session_ending_after_its_mail_was_deleted_is_not_kept(make_store: StoreFactory) -> None:
    session = new_session("open")
    stored = new_message(session, 1)

    async def scenario(store: Store) -> None:
        await store.add(stored, session)
        await store.delete_matching(None)  # while the connection is still open
        await store.save_session(dataclasses.replace(session, message_ids=("m0001",)))
        assert await store.get_session("open") is None
        assert (await store.list_sessions())[0] == 0

    run(make_store(), scenario)


def test_sessions_are_listed_per_mailbox(make_store: StoreFactory) -> None:
    one, two, both, empty = (new_session(name) for name in ("one", "two", "both", "empty"))
    placed = [(one, "shop"), (two, "ops"), (both, "shop"), (both, "ops")]
    messages = [(in_mailbox(new_message(s, n), box), s) for n, (s, box) in enumerate(placed)]

    async def scenario(store: Store) -> None:
        for stored, session in messages:
            await store.add(stored, session)
        await store.save_session(empty)
        total, sessions = await store.list_sessions(mailboxes=frozenset({"shop"}))
        assert (total, [s.id for s in sessions]) == (2, ["both", "one"])
        total, sessions = await store.list_sessions(mailboxes=frozenset({"ops"}), limit=1, offset=1)
        assert (total, [s.id for s in sessions]) == (2, ["two"])
        assert await store.list_sessions(mailboxes=frozenset({"nowhere"})) == (0, [])
        assert (await store.list_sessions())[0] == 4

    run(make_store(), scenario)
