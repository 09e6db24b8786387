"""The maildrop a POP3 login opens: the mailbox's messages at that moment, oldest first (RFC 1939 §8)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailtrap_lite.search import with_mailbox
from mailtrap_lite.service import MailService

PAGE = 500
_MAILBOX_NAME = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of the maildrop: its id (the unique-id listing, stable across restarts) and size."""

    id: str
    size: int


def mailbox_of(username: str) -> str | None:
    """The mailbox a username names (lower-cased), or None when it is no valid mailbox name."""
    name = username.lower()
    return name if _MAILBOX_NAME.fullmatch(name) else None


async def load(service: MailService, mailbox: str) -> tuple[Entry, ...]:
    """Every message of ``mailbox`` now, oldest first, listed a page at a time."""
    query = with_mailbox(None, mailbox)
    seen: dict[str, Entry] = {}
    offset = 0
    while True:
        page = await service.list_messages(query, PAGE, offset)
        for summary in page.messages:
            seen.setdefault(summary.id, Entry(summary.id, summary.size))
        offset += len(page.messages)
        if not page.messages or offset >= page.total:
            break
    # The listing is newest first; a message arriving meanwhile shifts the pages and shows up twice.
    return tuple(sorted(seen.values(), key=lambda entry: entry.id))
