"""``Mailbox``: what the ``mailtrap`` fixture is — find, wait for and assert on captured mail.

Waiting is pushed, never polled: the backend's ``wait`` blocks on the server's event hub (in-process) or
on its long-poll endpoint (remote) until enough candidates exist, then the exact checks run here.
Every failure says what was expected and lists what was received, with the reason each one did not match.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Literal, NoReturn, overload

from mailtrap_lite.mailboxes import MAILBOX_HEADER, mailbox_name
from mailtrap_lite.testing.filters import Filter
from mailtrap_lite.testing.messages import Message, Messages, MessageSource, SMTPSession

if TYPE_CHECKING:
    from typing import Unpack

    from mailtrap_lite.testing.filters import Filters
    from mailtrap_lite.testing.server import MailtrapServer

PAGE = 1000  # the API's largest page
MAX_LISTED = 25  # messages a failure message lists before "... and N more"


class MailtrapAssertionError(AssertionError):
    """An expectation about captured mail failed; the text lists what was received."""

    __module__ = "mailtrap_lite.testing"


class Mailbox:
    def __init__(self, server: MailtrapServer, name: str | None = None) -> None:
        """The mail of ``server``: all of it, or only that of the mailbox ``name``."""
        self.server = server
        self.backend = server.backend
        self.timeout = server.timeout
        self.name = None if name is None else mailbox_name(name)
        self._source = MessageSource(self.backend)
        self._session_floor = ""
        self._fault_ids: list[str] = []

    def __repr__(self) -> str:
        scope = f" mailbox={self.name}" if self.name else ""
        return f"<Mailbox {self.url} smtp={self.host}:{self.port}{scope}>"

    def mailbox(self, name: str) -> Mailbox:
        """A view of one mailbox of the same server, with this same API: its messages, waits, assertions,
        sessions and ``clear`` see and touch that mailbox only. Not emptied: call ``reset()`` for that."""
        return Mailbox(self.server, name)

    @property
    def headers(self) -> dict[str, str]:
        """Headers that put a message in this view's mailbox: ``{"X-Mailtrap-Mailbox": name}`` (empty for
        the whole server's view). The server honours the header unless one of its ``--mailbox`` rules
        matches the message first."""
        return {MAILBOX_HEADER: self.name} if self.name else {}

    def _scoped(self, q: str | None) -> str | None:
        if self.name is None:
            return q
        return f"mailbox:{self.name} {q}" if q else f"mailbox:{self.name}"

    # --- where the server is -------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    @property
    def url(self) -> str:
        """The web UI (and JSON API) of the server."""
        return self.server.url

    @property
    def smtp_url(self) -> str:
        return self.server.smtp_url

    def django_settings(self) -> dict[str, Any]:
        return self.server.django_settings()

    def env(self, prefix: str = "SMTP_") -> dict[str, str]:
        return self.server.env(prefix)

    # --- state ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Delete every message and fault rule (a mailbox's view: its messages and the rules it added);
        later ``sessions`` only lists connections from now on."""
        self.clear()
        self.clear_faults()
        # Sessions list by when they were first stored, ids by when they began: take the largest id of a
        # few, so that a session begun earlier but stored later is not mistaken for a new one.
        recent = self.backend.sessions(limit=20, mailbox=self.name)["sessions"]
        self._session_floor = max((s["id"] for s in recent), default="")

    def clear(self) -> None:
        """Delete every message (of this view's mailbox)."""
        self.backend.clear(self._scoped(None))
        self._source.forget()

    def fault(
        self,
        stage: str,
        code: int | None = None,
        *,
        match: str | None = None,
        times: int | None = None,
        message: str | None = None,
        action: str | None = None,
        delay_ms: int | None = None,
    ) -> dict[str, Any]:
        """Add a fault rule — e.g. ``fault("rcpt", 550, match="bounce@*")`` or
        ``fault("data", 451, times=2)`` — that lasts until the end of the test. Returns the stored rule."""
        rule: dict[str, Any] = {"stage": stage, "code": code, "match": match, "times": times}
        rule.update(message=message, action=action, delay_ms=delay_ms)
        added = self.backend.add_fault({k: v for k, v in rule.items() if v is not None})
        self._fault_ids.append(added["id"])
        return added

    def clear_faults(self) -> None:
        """Remove every fault rule; a mailbox's view removes only those it added, since the server's
        rules apply to all its mail and other views (other xdist workers) may have theirs."""
        if self.name is None:
            self.backend.clear_faults()
        else:
            for rule_id in self._fault_ids:
                self.backend.remove_fault(rule_id)
        self._fault_ids.clear()

    # --- reading -------------------------------------------------------------------------------------------

    def _list(self, q: str | None) -> Messages:
        found: list[dict[str, Any]] = []
        while True:
            page = self.backend.search(self._scoped(q), limit=PAGE, offset=len(found))
            found.extend(page["messages"])
            if not page["messages"] or len(found) >= page["total"]:
                break
        return Messages(Message(summary, self._source) for summary in reversed(found))

    @property
    def messages(self) -> Messages:
        """Every message received since the test began, oldest first."""
        return self._list(None)

    def filter(self, **filters: Unpack[Filters]) -> Messages:
        """The messages matching every filter now, oldest first (possibly none)."""
        return self._matching(Filter.of(filters))[0]

    def _matching(self, wanted: Filter) -> tuple[Messages, int]:
        candidates = self._list(wanted.query())
        return Messages(m for m in candidates if wanted.mismatch(m) is None), len(candidates)

    @property
    def sessions(self) -> list[SMTPSession]:
        """SMTP connections since the test began (those that delivered nothing too), oldest first."""
        found: list[SMTPSession] = []
        offset = 0
        while True:
            page = self.backend.sessions(limit=PAGE, offset=offset, mailbox=self.name)
            newer = [s for s in page["sessions"] if s["id"] > self._session_floor]
            found.extend(SMTPSession.from_json(s) for s in newer)
            offset += len(page["sessions"])
            if not newer or offset >= page["total"]:
                break
        return sorted(found, key=lambda s: s.id)

    # --- assertions ----------------------------------------------------------------------------------------

    def get(self, **filters: Unpack[Filters]) -> Message:
        """The one message matching the filters now; fails if there are none or several."""
        __tracebackhide__ = True
        wanted = Filter.of(filters)
        matched = self._matching(wanted)[0]
        if len(matched) != 1:
            self._fail(f"expected exactly one message matching {wanted}, found {len(matched)}", wanted)
        return matched[0]

    @overload
    def wait_for(  # type: ignore[overload-overlap]
        self, count: Literal[1] = 1, *, timeout: float | None = None, **filters: Unpack[Filters]
    ) -> Message: ...

    @overload
    def wait_for(
        self, count: int, *, timeout: float | None = None, **filters: Unpack[Filters]
    ) -> Messages: ...

    def wait_for(
        self, count: int = 1, *, timeout: float | None = None, **filters: Unpack[Filters]
    ) -> Message | Messages:
        """Wait until ``count`` messages match, woken by the server as mail arrives (no sleeping).

        Returns the first matching message — or, with ``count`` above 1, all the matches (at least
        ``count``), oldest first. Fails after ``timeout`` seconds (default: the plugin's
        ``mailtrap_timeout``, 10s) listing what did arrive.
        """
        __tracebackhide__ = True
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        wanted = Filter.of(filters)
        limit = self.timeout if timeout is None else timeout
        matched = self._await(wanted, count, limit)
        if len(matched) < count:
            some = f"{len(matched)} of {count}" if matched else "none"
            headline = f"timed out after {limit:g}s waiting for {count} message(s) matching {wanted}"
            headline += f" ({some} arrived)"
            self._fail(headline + _blocked_loop_hint(), wanted)
        return matched[0] if count == 1 else matched

    @overload
    async def wait_for_async(  # type: ignore[overload-overlap]
        self, count: Literal[1] = 1, *, timeout: float | None = None, **filters: Unpack[Filters]
    ) -> Message: ...

    @overload
    async def wait_for_async(
        self, count: int, *, timeout: float | None = None, **filters: Unpack[Filters]
    ) -> Messages: ...

    async def wait_for_async(
        self, count: int = 1, *, timeout: float | None = None, **filters: Unpack[Filters]
    ) -> Message | Messages:
        """``wait_for`` for async tests: waits on a worker thread, so this event loop keeps running."""
        return await asyncio.to_thread(lambda: self.wait_for(count, timeout=timeout, **filters))

    def _await(self, wanted: Filter, count: int, timeout: float) -> Messages:
        """The matches once there are ``count`` of them, or whatever matched when ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        query = self._scoped(wanted.query())
        while True:
            matched, candidates = self._matching(wanted)
            remaining = deadline - time.monotonic()
            if len(matched) >= count or remaining <= 0:
                return matched
            # Candidates that failed the exact checks stay candidates: wait for that many more to exist.
            needed = min(candidates + count - len(matched), PAGE)
            self.backend.wait(query, needed, remaining)

    def assert_sent(self, count: int | None = None, **filters: Unpack[Filters]) -> Messages:
        """Assert that mail matching the filters was sent — ``count`` messages exactly, or at least one.

        Checks what has arrived *now*; use ``wait_for`` for mail sent in the background.
        """
        __tracebackhide__ = True
        wanted = Filter.of(filters)
        matched = self._matching(wanted)[0]
        if count is None and not matched:
            self._fail(f"expected a message matching {wanted}, found none", wanted)
        if count is not None and len(matched) != count:
            self._fail(f"expected {count} message(s) matching {wanted}, found {len(matched)}", wanted)
        return matched

    def assert_nothing_sent(self, *, within: float = 0.0, **filters: Unpack[Filters]) -> None:
        """Assert that no mail (matching the filters, if any) was sent — and, with ``within``, that none
        arrives during that many seconds (the wait ends at once when one does)."""
        __tracebackhide__ = True
        wanted = Filter.of(filters)
        matched = self._await(wanted, 1, within)
        if matched:
            what = "no mail" if wanted == Filter() else f"no message matching {wanted}"
            self._fail(f"expected {what}, found {len(matched)}", wanted)

    # --- failure messages ----------------------------------------------------------------------------------

    def _fail(self, headline: str, wanted: Filter | None) -> NoReturn:
        __tracebackhide__ = True
        raise MailtrapAssertionError(headline + "\n" + self.report(wanted))

    def report(self, wanted: Filter | None = None) -> str:
        """What arrived during this test, one line a message (with why it does not match ``wanted``), and
        the SMTP sessions that delivered nothing."""
        received = self.messages
        if not received:
            lines = ["No message was received during this test."]
        else:
            lines = [f"Received during this test ({len(received)}):"]
            for number, message in enumerate(received[:MAX_LISTED], 1):
                lines.append(f"  {number}. {message.describe()}")
                reason = wanted.mismatch(message) if wanted is not None else None
                if reason:
                    lines.append(f"     does not match: {reason}")
            if len(received) > MAX_LISTED:
                lines.append(f"  ... and {len(received) - MAX_LISTED} more")
        empty = [s for s in self.sessions if not s.message_ids]
        if empty:
            lines.append(f"SMTP sessions that delivered nothing ({len(empty)}):")
            lines.extend(f"  {s.describe()}" for s in empty[:MAX_LISTED])
        lines.append(f"Web UI: {self.url}")
        return "\n".join(lines)


def _blocked_loop_hint() -> str:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return ""
    return (
        "\n(wait_for blocked this thread's event loop, so mail sent from it could not go out: "
        "in async code use `await mailtrap.wait_for_async(...)`)"
    )
