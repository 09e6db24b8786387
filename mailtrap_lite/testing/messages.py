"""Captured mail as test code sees it: ``Message``, its ``Attachment``s, ``SMTPSession`` and ``Messages``.

Built from the JSON of the HTTP API (a summary first; the full message, raw bytes and session are fetched
on first use and cached), so a message looks the same whether the server is in-process or remote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from functools import cached_property
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, overload

from mailtrap_lite import model, wire
from mailtrap_lite.model import Address, Envelope, MessageWarning, TranscriptLine
from mailtrap_lite.testing.transcripts import Transcribed

if TYPE_CHECKING:
    from typing import Unpack

    from mailtrap_lite.testing.backend import Backend
    from mailtrap_lite.testing.filters import Filters
    from mailtrap_lite.testing.release import Release

__all__ = ["Attachment", "Message", "Messages", "SMTPSession"]

_URL = re.compile(r"https?://[^\s<>\"'`{}|\\^\[\]]+", re.I)
_URL_TRAILER = ".,;:!?)'\""


class MessageSource:
    """Fetches (once) what a Message reads lazily; one per Mailbox, forgotten when the box is emptied."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._full: dict[str, dict[str, Any]] = {}
        self._raw: dict[str, bytes] = {}
        self._sessions: dict[str, SMTPSession] = {}
        self._parts: dict[tuple[str, str], bytes] = {}

    def forget(self) -> None:
        for cache in (self._full, self._raw, self._sessions, self._parts):
            cache.clear()

    def full(self, message_id: str) -> dict[str, Any]:
        if message_id not in self._full:
            self._full[message_id] = self.backend.message(message_id)
        return self._full[message_id]

    def raw(self, message_id: str) -> bytes:
        if message_id not in self._raw:
            self._raw[message_id] = self.backend.raw(message_id)
        return self._raw[message_id]

    def part(self, message_id: str, part_id: str) -> bytes:
        key = (message_id, part_id)
        if key not in self._parts:
            self._parts[key] = self.backend.part(message_id, part_id)
        return self._parts[key]

    def session(self, message_id: str) -> SMTPSession:
        # Not cached while open: an open session's transcript still grows.
        cached = self._sessions.get(message_id)
        if cached is not None:
            return cached
        session = SMTPSession.from_json(self.backend.message_session(message_id))
        if session.ended_at is not None:
            self._sessions[message_id] = session
        return session


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attached (or inline) file; ``content`` is its decoded bytes, fetched on first use."""

    part_id: str
    filename: str | None
    content_type: str
    size: int
    content_id: str | None
    _message_id: str = field(repr=False, compare=False)
    _source: MessageSource = field(repr=False, compare=False)

    @property
    def content(self) -> bytes:
        return self._source.part(self._message_id, self.part_id)


@dataclass(frozen=True, slots=True)
class SMTPSession(Transcribed):
    """One SMTP connection: who connected, what was said, and which messages it delivered."""

    id: str
    peer: str
    started_at: datetime | None
    ended_at: datetime | None
    helo: str | None
    tls: dict[str, str] | None
    auth: dict[str, str] | None
    transcript: tuple[TranscriptLine, ...]
    message_ids: tuple[str, ...]
    error: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SMTPSession:
        session = wire.decode(model.Session, data)
        return cls(
            id=session.id,
            peer=session.peer,
            started_at=session.started_at,
            ended_at=session.ended_at,
            helo=session.helo,
            tls=wire.encode(session.tls),
            auth=wire.encode(session.auth),
            transcript=tuple(session.transcript),
            message_ids=tuple(session.message_ids),
            error=session.error,
        )

    @property
    def username(self) -> str | None:
        return self.auth["username"] if self.auth else None

    @property
    def replies(self) -> tuple[str, ...]:
        """Every line the server sent, in order."""
        return tuple(line.line for line in self.transcript if line.dir == "S")

    def describe(self) -> str:
        last = self.replies[-1] if self.replies else "no reply"
        problem = f", {self.error}" if self.error else ""
        return f"session from {self.peer} (HELO {self.helo or '-'}): last reply {last!r}{problem}"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area"):
            for name, value in attrs:
                if name == "href" and value and value.strip().lower().startswith(("http://", "https://")):
                    self.found.append(value.strip())


class Message:
    """One captured message: envelope, headers, bodies, attachments, raw bytes and the SMTP session.

    Summary fields (id, subject, from_, to, cc, bcc, envelope, warnings, ...) are there at once; ``text``,
    ``html``, ``headers``, ``attachments``, ``raw``, ``email`` and ``session`` are fetched on first use.
    """

    def __init__(self, summary: dict[str, Any], source: MessageSource) -> None:
        self._summary = summary
        self._source = source
        decoded = wire.decode(model.MessageSummary, summary)
        self.id: str = decoded.id
        self.session_id: str = decoded.session_id
        self.mailbox: str = decoded.mailbox
        self.received_at: datetime = decoded.received_at
        self.size: int = decoded.size
        self.envelope: Envelope = decoded.envelope
        self.subject: str = decoded.subject
        self.from_: Address | None = decoded.from_
        self.to: tuple[Address, ...] = decoded.to
        self.cc: tuple[Address, ...] = decoded.cc
        self.bcc: tuple[Address, ...] = decoded.bcc
        self.reply_to: tuple[Address, ...] = decoded.reply_to
        self.date: datetime | None = decoded.date
        self.message_id: str | None = decoded.message_id
        self.snippet: str = decoded.snippet
        self.attachment_count: int = decoded.attachments
        self.warnings: tuple[MessageWarning, ...] = decoded.warnings
        self.read: bool = decoded.read
        self.tags: tuple[str, ...] = decoded.tags
        self._releases = decoded.releases

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.describe()}>"

    # --- addresses, for short assertions ------------------------------------------------------------------

    @property
    def mail_from(self) -> str:
        """The envelope sender (``MAIL FROM``); ``""`` for the null sender."""
        return self.envelope.mail_from

    @property
    def recipients(self) -> tuple[str, ...]:
        """Envelope recipients the server accepted: everyone the message went to, Bcc included."""
        return self.envelope.accepted

    @property
    def to_addresses(self) -> tuple[str, ...]:
        return tuple(a.address for a in self.to)

    # --- the full message (fetched once) -------------------------------------------------------------------

    @cached_property
    def _full(self) -> dict[str, Any]:
        return self._source.full(self.id)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Every header as ``(name, decoded value)``, in order."""
        headers: tuple[tuple[str, str], ...] = wire.decode_field(model.Message, "headers", self._full)
        return headers

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def text(self) -> str | None:
        text: str | None = self._full["text"]
        return text

    @property
    def html(self) -> str | None:
        html: str | None = self._full["html"]
        return html

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        return self._files("attachments")

    @property
    def inline(self) -> tuple[Attachment, ...]:
        """Parts the HTML shows (a Content-ID in ``multipart/related``), e.g. embedded images."""
        return self._files("inline")

    def _files(self, key: str) -> tuple[Attachment, ...]:
        found: tuple[model.Attachment, ...] = wire.decode_field(model.Message, key, self._full)
        return tuple(
            Attachment(
                part_id=item.part_id,
                filename=item.filename,
                content_type=item.content_type,
                size=item.size,
                content_id=item.content_id,
                _message_id=self.id,
                _source=self._source,
            )
            for item in found
        )

    @property
    def raw(self) -> bytes:
        """The bytes exactly as received in DATA."""
        return self._source.raw(self.id)

    @cached_property
    def email(self) -> EmailMessage:
        """The stdlib ``email`` object (``policy.default`` semantics) parsed from ``raw``."""
        from mailtrap_lite.message import parse_email

        return parse_email(self.raw)

    @property
    def session(self) -> SMTPSession:
        return self._source.session(self.id)

    @property
    def transcript(self) -> tuple[TranscriptLine, ...]:
        """The SMTP conversation that carried this message (the whole session)."""
        return self.session.transcript

    # --- relay -------------------------------------------------------------------------------------------

    def release(self, to: Sequence[str] | None = None) -> Release:
        """Forward this message through the server's relay (``--relay``) to ``to`` (default: its accepted
        envelope recipients). SENDS REAL MAIL. Returns the release, sent or not (``assert_sent()``);
        raises APIError when nothing was sent (no relay, a recipient the lists refuse, a bad address)."""
        from mailtrap_lite.testing.release import Release

        return Release.from_json(self._source.backend.release(self.id, None if to is None else list(to)))

    @property
    def releases(self) -> tuple[Release, ...]:
        """The releases this message had when it was fetched, oldest first."""
        from mailtrap_lite.testing.release import Release

        return tuple(Release.from_json(wire.encode(release)) for release in self._releases)

    def links(self) -> list[str]:
        """Every http(s) URL in the text body and every http(s) href in the HTML body, once each, in order."""
        found: list[str] = []
        for match in _URL.finditer(self.text or ""):
            found.append(match.group().rstrip(_URL_TRAILER))
        if self.html:
            parser = _Links()
            parser.feed(self.html)
            parser.close()
            found.extend(parser.found)
        return list(dict.fromkeys(found))

    def describe(self) -> str:
        """One line for failure messages: time, subject, sender, recipients (and any refused ones)."""
        when = self.received_at.strftime("%H:%M:%S.%f")[:-3]
        sender = self.from_.address if self.from_ else (self.mail_from or "<>")
        line = f"{when}  {self.subject!r}  from {sender}  to {', '.join(self.recipients) or '(nobody)'}"
        refused = [f"{r.address} ({r.code})" for r in self.envelope.recipients if not 200 <= r.code < 300]
        if refused:
            line += f"  refused {', '.join(refused)}"
        if self.attachment_count:
            line += f"  [{self.attachment_count} attachment(s)]"
        return line


class Messages(Sequence[Message]):
    """Messages in the order they arrived (oldest first); a snapshot, taken when it was asked for."""

    def __init__(self, items: Iterable[Message] = ()) -> None:
        self._items = tuple(items)

    @overload
    def __getitem__(self, index: int) -> Message: ...

    @overload
    def __getitem__(self, index: slice) -> Messages: ...

    def __getitem__(self, index: int | slice) -> Message | Messages:
        if isinstance(index, slice):
            return Messages(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Messages):
            return self._items == other._items
        if isinstance(other, (list, tuple)):
            return list(self._items) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if not self._items:
            return "Messages([])"
        return "Messages([\n" + "".join(f"  {m!r},\n" for m in self._items) + "])"

    @property
    def subjects(self) -> list[str]:
        return [m.subject for m in self._items]

    def filter(self, **filters: Unpack[Filters]) -> Messages:
        """The messages of this list that match every filter (see ``Mailbox.filter``)."""
        from mailtrap_lite.testing.filters import Filter

        wanted = Filter.of(filters)
        if wanted.q is not None:
            raise ValueError("q is a server-side search: use mailtrap.filter(q=...) instead")
        return Messages(m for m in self._items if wanted.mismatch(m) is None)
