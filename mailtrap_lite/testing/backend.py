"""What the testing API needs from a server, in the JSON shapes of the HTTP API.

Two implementations: ``mailtrap_lite.client.MailtrapClient`` (a server reached over HTTP) and
``mailtrap_lite.testing.thread.LocalBackend`` (a server on a thread of this process, called directly).
Everything above this seam — filters, waiting, Message objects, failure messages — is one code path, so a
test behaves the same against both.
"""

from __future__ import annotations

from typing import Any, Protocol


class Backend(Protocol):
    url: str

    def search(self, q: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``{total, unread, count, messages}``: summaries matching ``q``, newest first."""

    def wait(self, q: str | None, count: int, timeout: float) -> tuple[dict[str, Any], bool]:
        """Block until ``count`` messages match ``q`` (pushed, not polled); the page and whether in time."""

    def message(self, message_id: str) -> dict[str, Any]: ...

    def raw(self, message_id: str) -> bytes: ...

    def part(self, message_id: str, part_id: str) -> bytes: ...

    def message_session(self, message_id: str) -> dict[str, Any]: ...

    def sessions(self, limit: int = 50, offset: int = 0, mailbox: str | None = None) -> dict[str, Any]:
        """``{total, count, sessions}``, newest first; with ``mailbox``, those that delivered mail there."""

    def clear(self, q: str | None = None) -> None:
        """Delete every message matching ``q`` (all when None)."""

    def mailboxes(self) -> list[dict[str, Any]]: ...

    def add_fault(self, rule: dict[str, Any]) -> dict[str, Any]: ...

    def remove_fault(self, rule_id: str) -> None: ...

    def clear_faults(self) -> None: ...

    def release(self, message_id: str, to: list[str] | None) -> dict[str, Any]:
        """The release record, whether the next hop took the message or not; APIError when nothing was
        sent (no relay: 409, a refused recipient: 403, a bad address: 400)."""
