"""The selected mailbox's view: what the client is told of changes made elsewhere, and when."""

from __future__ import annotations

import asyncio
import dataclasses

from mailtrap_lite.events import Event, EventHub
from mailtrap_lite.imap.parser import Atom, sequence_set
from mailtrap_lite.imap.selected import Selected
from mailtrap_lite.model import MessageSummary, StoredMessage
from tests.store.helpers import new_message, new_session


def summary(uid: int, mailbox: str = "default") -> MessageSummary:
    stored = new_message(new_session(), uid)
    return dataclasses.replace(stored.summary, uid=uid, mailbox=mailbox)


def new(found: MessageSummary) -> Event:
    return Event("message.new", {}, StoredMessage(found, b"", ""))


def deleted(*ids: str) -> Event:
    return Event("message.deleted", {"ids": list(ids)})


def view(hub: EventHub, count: int) -> Selected:
    return Selected("INBOX", "default", False, hub.subscribe(), [summary(n) for n in range(1, count + 1)])


def test_changes_are_told_in_order_and_deletions_wait_when_asked() -> None:
    async def scenario() -> None:
        hub = EventHub()
        selected = view(hub, 3)
        hub.publish(deleted("m0002"))
        hub.publish(new(summary(4)))
        hub.publish(new(summary(5, mailbox="other")))  # another mailbox: the session filters these out
        assert selected.changes(expunge=False) == [b"* 4 EXISTS\r\n"]  # no EXPUNGE during a FETCH
        assert selected.resolve(sequence_set(Atom("2")), uid=False) == [(2, selected.messages[1])]
        assert selected.changes(expunge=True) == [b"* 2 EXPUNGE\r\n"]
        assert [s.uid for s in selected.messages] == [1, 3, 4]
        hub.publish(new(summary(6)))
        hub.publish(deleted("m0006", "m0001"))  # a message gone before the client heard of it
        # The client counts an EXPUNGE itself; the message it never heard of goes unmentioned.
        assert selected.changes(expunge=True) == [b"* 1 EXPUNGE\r\n"]
        assert selected.announced == len(selected.messages) == 2
        read = dataclasses.replace(selected.messages[0], read=True)
        hub.publish(Event("message.updated", {}, read))
        assert selected.changes(expunge=True) == [b"* 1 FETCH (UID 3 FLAGS (\\Seen))\r\n"]

    asyncio.run(scenario())


def test_uid_sets_name_existing_uids_and_star_is_the_last() -> None:
    async def scenario() -> None:
        selected = view(EventHub(), 3)
        assert [n for n, _ in selected.resolve(sequence_set(Atom("2:*")), uid=True) or []] == [2, 3]
        assert [n for n, _ in selected.resolve(sequence_set(Atom("9:*")), uid=True) or []] == [3]
        assert selected.resolve(sequence_set(Atom("7")), uid=True) == []
        assert selected.resolve(sequence_set(Atom("4")), uid=False) is None

    asyncio.run(scenario())


def test_after_the_hub_dropped_the_session_a_listing_puts_it_right() -> None:
    async def scenario() -> None:
        hub = EventHub(queue_size=1)
        selected = view(hub, 3)
        hub.publish(new(summary(4)))
        hub.publish(new(summary(5)))  # the queue is full: the subscription is dropped
        assert selected.subscription.overflowed
        listing = [summary(1), summary(3), summary(4), summary(5)]
        out = selected.resync(listing, hub.subscribe())
        assert out == [b"* 2 EXPUNGE\r\n", b"* 4 EXISTS\r\n"]
        assert [s.uid for s in selected.messages] == [1, 3, 4, 5]

    asyncio.run(scenario())
