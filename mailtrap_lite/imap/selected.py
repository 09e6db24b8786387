"""The selected mailbox as one session sees it: its messages in UID order, and what the client was told.

Sequence numbers may change only when the client is told (RFC 3501 §7.4.1). Changes made elsewhere (a new
message, a deletion by the API, by retention or by another client, a read flag) arrive as events and wait
in the subscription until ``changes`` turns them into untagged responses, at a point where the session
may send them. Deletions wait while a FETCH, STORE or SEARCH by sequence number is answered.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from mailtrap_lite.events import Event, Subscription
from mailtrap_lite.imap.parser import SequenceSet
from mailtrap_lite.model import MessageSummary


class Selected:
    def __init__(
        self,
        name: str,
        mailbox: str,
        read_only: bool,
        subscription: Subscription,
        summaries: Iterable[MessageSummary],
    ) -> None:
        self.name = name
        self.mailbox = mailbox
        self.read_only = read_only
        self.subscription = subscription
        self.messages = sorted(summaries, key=lambda s: s.uid)
        self.uids = [s.uid for s in self.messages]
        self.deleted: set[int] = set()  # UIDs flagged \Deleted in this session
        self.announced = len(self.messages)  # how many messages the client knows of
        self._gone: set[str] = set()  # deleted elsewhere, not yet expunged for the client

    def close(self) -> None:
        self.subscription.close()

    @property
    def unseen(self) -> int:
        return sum(1 for s in self.messages if not s.read)

    def first_unseen(self) -> int | None:
        return next((n for n, s in enumerate(self.messages, 1) if not s.read), None)

    def flags(self, summary: MessageSummary) -> list[str]:
        found = ["\\Seen"] if summary.read else []
        if summary.uid in self.deleted:
            found.append("\\Deleted")
        return found

    def resolve(self, numbers: SequenceSet, *, uid: bool) -> list[tuple[int, MessageSummary]] | None:
        """(sequence number, summary) of the messages a set names, in order; None when a sequence number
        is beyond the messages the client knows of."""
        known = self.messages[: self.announced]
        picked: set[int] = set()
        if uid:
            largest = known[-1].uid if known else 0
            for low, high in numbers.bounds(largest):
                start = bisect.bisect_left(self.uids, low, 0, len(known))
                stop = bisect.bisect_right(self.uids, high, 0, len(known))
                picked.update(range(start, stop))
        else:
            if numbers.highest_named() > len(known) or not known:
                return None
            for low, high in numbers.bounds(len(known)):
                picked.update(range(low - 1, high))
        return [(index + 1, known[index]) for index in sorted(picked)]

    def replace(self, summary: MessageSummary) -> None:
        index = bisect.bisect_left(self.uids, summary.uid)
        if index < len(self.uids) and self.uids[index] == summary.uid:
            self.messages[index] = summary

    def changes(self, *, expunge: bool, taken: Sequence[Event] = ()) -> list[bytes]:
        """Apply ``taken`` (events already taken from the subscription) and the events waiting; the
        untagged responses that tell the client, in order."""
        out: list[bytes] = []
        for event in taken:
            out += self._apply(event, expunge)
        while not self.subscription.queue.empty():
            event = self.subscription.queue.get_nowait()
            out += self._apply(event, expunge)
        if expunge and self._gone:
            out += self._expunge(self._gone)
        if self.announced != len(self.messages):
            self.announced = len(self.messages)
            out.append(f"* {self.announced} EXISTS\r\n".encode())
        return out

    def _apply(self, event: Event, expunge: bool) -> list[bytes]:
        if event.type == "message.new":
            summary: MessageSummary = event.subject.summary
            if summary.mailbox == self.mailbox and (not self.uids or summary.uid > self.uids[-1]):
                self.messages.append(summary)
                self.uids.append(summary.uid)
            return []
        if event.type in ("message.deleted", "messages.cleared"):
            ids = set(event.data.get("ids", ()))
            if not expunge:
                self._gone |= ids
                return []
            return self._expunge(ids)
        if event.type == "message.updated":
            updated: MessageSummary = event.subject
            index = bisect.bisect_left(self.uids, updated.uid)
            if index < len(self.uids) and self.uids[index] == updated.uid:
                before = self.messages[index]
                self.messages[index] = updated
                if before.read != updated.read and index < self.announced:
                    flags = " ".join(self.flags(updated))
                    return [f"* {index + 1} FETCH (UID {updated.uid} FLAGS ({flags}))\r\n".encode()]
        return []

    def _expunge(self, ids: set[str]) -> list[bytes]:
        out = []
        for index in range(len(self.messages) - 1, -1, -1):  # from the end, so numbers stay valid
            summary = self.messages[index]
            if summary.id not in ids:
                continue
            del self.messages[index], self.uids[index]
            self.deleted.discard(summary.uid)
            if index < self.announced:
                self.announced -= 1
                out.append(f"* {index + 1} EXPUNGE\r\n".encode())
        self._gone -= ids
        return out

    def resync(self, summaries: Iterable[MessageSummary], subscription: Subscription) -> list[bytes]:
        """After the event hub dropped the subscription: compare with a fresh listing instead."""
        self.subscription = subscription
        current = {s.id: s for s in summaries}
        out = self._expunge({s.id for s in self.messages if s.id not in current})
        last = self.uids[-1] if self.uids else 0
        for summary in sorted(current.values(), key=lambda s: s.uid):
            if summary.uid > last:
                self.messages.append(summary)
                self.uids.append(summary.uid)
            else:
                self.replace(summary)
        if self.announced != len(self.messages):
            self.announced = len(self.messages)
            out.append(f"* {self.announced} EXISTS\r\n".encode())
        return out
