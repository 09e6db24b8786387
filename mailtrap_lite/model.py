"""The data model: plain dataclasses shared by the SMTP, store, web and testing layers.

Everything here is JSON-shaped (see ``to_json``); field names are those of the JSON API.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar, overload

Direction = Literal["C", "S"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    t_ms: int
    dir: Direction
    line: str
    fault_id: str | None = None


@dataclass(frozen=True, slots=True)
class TLSInfo:
    version: str
    cipher: str


@dataclass(frozen=True, slots=True)
class AuthInfo:
    mechanism: str
    username: str


T = TypeVar("T")


class Prefix(Sequence[T], Generic[T]):
    """The first ``length`` items of a list that its owner only ever appends to: an immutable view that
    costs nothing to take, so a long session can be snapshot with every message it delivers."""

    __slots__ = ("_items", "_length")

    def __init__(self, items: list[T], length: int) -> None:
        self._items = items
        self._length = length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._length)
            if step == 1:
                return tuple(self._items[start:stop])
            return tuple(self._items[i] for i in range(start, stop, step))
        if not -self._length <= index < self._length:
            raise IndexError("index out of range")
        return self._items[index % self._length]

    def __iter__(self) -> Iterator[T]:
        return itertools.islice(self._items, self._length)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Prefix, tuple, list)):
            return len(other) == self._length and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Prefix({list(self)!r})"

    def __reduce__(self) -> tuple[type, tuple[tuple[T, ...]]]:
        return tuple, (tuple(self),)


@dataclass(frozen=True, slots=True)
class Session:
    """One SMTP connection as it was at one moment: a snapshot taken from its ``SessionLog``.

    ``message_ids`` is empty in the snapshot an ``Arrival`` carries: a store knows which messages it holds
    for a session, and listing them all with every message would cost O(session) per message.
    """

    id: str
    peer: str
    started_at: datetime
    ended_at: datetime | None = None
    helo: str | None = None
    tls: TLSInfo | None = None
    auth: AuthInfo | None = None
    transcript: Sequence[TranscriptLine] = ()
    message_ids: tuple[str, ...] = ()
    error: str | None = None
    transcript_truncated: bool = False
    protocol: str = "smtp"  # "smtp", "pop3", "imap" or "http" (a message posted to the API)


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    code: int
    reply: str


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    reply: str


@dataclass(frozen=True, slots=True)
class Envelope:
    mail_from: str
    mail_options: tuple[str, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    data: Reply | None = None

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(r.address for r in self.recipients if 200 <= r.code < 300)


# Worth showing, not worth flagging: most mail sent by applications and scripts lacks them.
INFORMATIONAL_WARNINGS = frozenset(("missing-date", "missing-message-id"))


@dataclass(frozen=True, slots=True)
class MessageWarning:
    code: str
    message: str
    severity: str = "warning"  # "warning", or "info" for INFORMATIONAL_WARNINGS (not flagged in lists)


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """One command sent to the relay's next hop and the reply it got (the greeting's command is "")."""

    command: str
    code: int
    reply: str


@dataclass(frozen=True, slots=True)
class Release:
    """One attempt to forward a captured message to a real mail server.

    ``result`` is ``sent`` (the next hop answered 250 to DATA), ``refused`` (a 5xx, or no usable next hop)
    or ``deferred`` (a 4xx, or the connection failed: worth retrying); ``code`` is the reply that decided
    it (null when no reply did). ``trigger`` is ``manual`` (the API, the UI, the pytest plugin) or
    ``auto`` (``--relay-auto``).
    """

    at: datetime
    to: tuple[str, ...]
    relay: str  # the next hop, host:port
    result: Literal["sent", "refused", "deferred"]
    code: int | None
    trigger: Literal["manual", "auto"] = "manual"
    mail_from: str = ""
    error: str | None = None
    replies: tuple[UpstreamReply, ...] = ()
    transcript: tuple[TranscriptLine, ...] = ()


@dataclass(frozen=True, slots=True)
class RelayItem:
    """An automatic relay waiting in the store-and-forward queue, or failed for good (``failed``: kept
    until retried or dropped). ``sent`` is never stored: the release that settles it removes it."""

    id: str
    message_id: str
    to: tuple[str, ...]
    state: Literal["queued", "failed", "sent"]
    attempts: int
    created_at: datetime
    next_at: datetime | None
    last_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """What a list shows and what search runs over; built at ingest from the raw bytes."""

    id: str
    session_id: str
    mailbox: str
    received_at: datetime
    size: int
    envelope: Envelope
    subject: str
    from_: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    message_id: str | None
    snippet: str
    attachments: int
    warnings: tuple[MessageWarning, ...] = ()
    read: bool = False
    tags: tuple[str, ...] = ()
    mailbox_rule: str = "default"  # why the message is in its mailbox: the rule that matched
    releases: tuple[Release, ...] = ()  # every forward to a real mail server, oldest first
    uid: int = 0  # the store's IMAP UID (see store/base.py); 0 until a store has kept the message


@dataclass(frozen=True, slots=True)
class Part:
    part_id: str
    content_type: str
    charset: str | None
    disposition: str | None
    filename: str | None
    content_id: str | None
    size: int
    children: tuple[Part, ...] = ()


@dataclass(frozen=True, slots=True)
class Attachment:
    part_id: str
    filename: str | None
    content_type: str
    size: int
    content_id: str | None


@dataclass(frozen=True, slots=True)
class Message:
    """The full view of one message: its summary plus the parsed body."""

    summary: MessageSummary
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None
    parts: Part
    attachments: tuple[Attachment, ...]
    inline: tuple[Attachment, ...]
    warnings: tuple[MessageWarning, ...]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """What ingest hands to a store: the acknowledged bytes, their summary, and the text that search reads."""

    summary: MessageSummary
    raw: bytes
    body_text: str


@dataclass(frozen=True, slots=True)
class Arrival:
    """One message the SMTP layer is about to acknowledge: built once at the end of DATA and handed
    unchanged through the service to the store."""

    message_id: str
    raw: bytes
    envelope: Envelope
    session: Session
    mailbox: str = "default"
    mailbox_rule: str = "default"
    tags: tuple[str, ...] = ()

    @property
    def eight_bit(self) -> bool:
        """Whether the client declared 8-bit content (RFC 6152), so 8-bit bytes are no protocol problem."""
        return "BODY=8BITMIME" in self.envelope.mail_options


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    unread: int
    messages: tuple[MessageSummary, ...]


_SCALARS = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def json_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(JSON name, attribute) of a dataclass; dataclasses.fields() is too slow to call per object."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple((f.name.rstrip("_"), f.name) for f in dataclasses.fields(cls))
    return found


def to_json(value: Any) -> Any:
    """Turn model objects into JSON-ready values (datetimes as RFC 3339, ``from_`` as ``from``)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, (list, tuple, Prefix)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_json(getattr(value, attr)) for name, attr in json_fields(type(value))}
    return value


C = TypeVar("C", bound=type)


def pickle_as_arguments(cls: C) -> C:
    """Pickle instances of this dataclass as its constructor's arguments (a class decorator).

    A slotted dataclass otherwise pickles through ``dataclasses``' ``__getstate__``, which calls
    ``fields()`` for every object: with --db, each message's envelope, transcript lines and summary
    cross to the writer process and back, and that halves the cost of the crossing."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    values = operator.attrgetter(*names)

    def __reduce__(self: object) -> tuple[type, tuple[object, ...]]:
        found = values(self)
        return cls, found if len(names) > 1 else (found,)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign, assignment]
    return cls


_MODELS: tuple[type, ...] = (
    Address, TranscriptLine, TLSInfo, AuthInfo, Session, Recipient, Reply, Envelope, MessageWarning,
    UpstreamReply, Release, RelayItem, MessageSummary, Part, Attachment, Message, StoredMessage, Arrival,
    Page,
)  # fmt: skip
for _model in _MODELS:
    pickle_as_arguments(_model)
