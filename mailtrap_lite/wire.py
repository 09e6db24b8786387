"""Every JSON shape the server sends: the REST bodies, the websocket frames and the pytest plugin's data.

Each shape is one typed definition (a model dataclass, or a record below) from which three things are
derived: the encoder (``encode``, generic over dataclasses), the decoder (``decode``, used by the pytest
plugin to read what a server answered) and the JSON Schema the OpenAPI document publishes (``SCHEMAS``).
A field added to a dataclass therefore appears in the body, the plugin and the document at once.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from mailtrap_lite.faults import FaultRule, FaultState
from mailtrap_lite.model import (
    Attachment,
    Envelope,
    Message,
    MessageSummary,
    MessageWarning,
    Part,
    RelayItem,
    Release,
    Session,
    json_fields,
    to_json,
)
from mailtrap_lite.store.base import MailboxStats, TagCount
from mailtrap_lite.webhooks import WebhookStatus

T = TypeVar("T")
JSON = dict[str, Any]

encode = to_json


@dataclass(frozen=True, slots=True)
class MessageList:
    """A page of summaries, newest first (also the answer of ``wait``)."""

    total: int
    unread: int
    count: int
    messages: tuple[MessageSummary, ...]


@dataclass(frozen=True, slots=True)
class SessionList:
    total: int
    count: int
    sessions: tuple[Session, ...]


@dataclass(frozen=True, slots=True)
class Deleted:
    deleted: int
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaultsDeleted:
    deleted: int


@dataclass(frozen=True, slots=True)
class FaultCounters:
    """What the API shows of a fault rule after its own fields: the reply line it sends, its counters."""

    reply: str | None
    remaining: int | None
    fired: int


@dataclass(frozen=True, slots=True)
class Stats:
    version: str
    store: str
    messages: int
    unread: int
    sessions: int
    bytes: int
    db_size: int | None
    unindexed: int
    writable: bool
    store_error: str | None
    uptime_seconds: float
    received_total: int
    received_bytes_total: int
    rejected_total: int
    rejected_by_reason: dict[str, int]
    sessions_total: int
    open_sessions: int
    subscribers: int
    loop_lag_ms: dict[str, float | int]


@dataclass(frozen=True, slots=True)
class TagList:
    """``GET /api/tags``: each tag and how many messages carry it, by name."""

    tags: tuple[TagCount, ...]


@dataclass(frozen=True, slots=True)
class Retagged:
    """The answer of a tag rename, a tag deletion or ``POST /api/messages/tags``: the messages whose tags
    changed, newest first."""

    changed: int
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MailboxList:
    mailboxes: tuple[MailboxStats, ...]


@dataclass(frozen=True, slots=True)
class Marked:
    """The answer of ``POST /api/messages/read`` and ``/unread``: the messages whose flag changed."""

    read: bool
    changed: int
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessagesTagged:
    """The ``messages.tagged`` event: each of ``ids`` (messages of ``mailbox``) lost the tags ``remove``,
    then gained those of ``add`` it lacked."""

    mailbox: str
    ids: tuple[str, ...]
    add: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessagesUpdated:
    """The ``messages.updated`` event: these messages were marked read or unread at once."""

    ids: tuple[str, ...]
    read: bool


@dataclass(frozen=True, slots=True)
class Error:
    error: str


@dataclass(frozen=True, slots=True)
class Ids:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Pruned:
    ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Subscribed:
    q: str
    mailbox: str | None = None


@dataclass(frozen=True, slots=True)
class Released:
    """The ``message.released`` event: a message was forwarded (or the next hop refused it)."""

    id: str
    release: Release


@dataclass(frozen=True, slots=True)
class RelayQueue:
    """``GET /api/relay/queue``: automatic relays waiting for a retry, and those that failed."""

    items: tuple[RelayItem, ...]


# --- the shapes whose JSON is not one dataclass's fields ---------------------------------------------------

_SUMMARY_FLATTENED = "summary"
_NO_TRANSCRIPT = frozenset({"transcript"})


def message_json(message: Message) -> JSON:
    """The summary's fields, then the parse's: ``attachments`` becomes the list, ``warnings`` the full set."""
    data: JSON = to_json(message.summary)
    for name, attr in json_fields(Message):
        if attr != _SUMMARY_FLATTENED:
            data[name] = to_json(getattr(message, attr))
    return data


def session_json(session: Session, *, transcript: bool = True) -> JSON:
    if transcript:
        data: JSON = to_json(session)
        return data
    # A long session's transcript is thousands of lines: do not convert what is thrown away.
    return {
        name: to_json(getattr(session, attr))
        for name, attr in json_fields(Session)
        if name not in _NO_TRANSCRIPT
    }


def record_json(record: object) -> JSON:
    """The JSON object of one of the dataclasses above (or of the model)."""
    return typing.cast(JSON, to_json(record))


def message_list_json(total: int, unread: int, messages: Sequence[MessageSummary]) -> JSON:
    return record_json(MessageList(total, unread, len(messages), tuple(messages)))


def session_list_json(total: int, sessions: Sequence[Session]) -> JSON:
    return record_json(SessionList(total, len(sessions), tuple(sessions)))


def deleted_json(ids: Sequence[str]) -> JSON:
    return record_json(Deleted(len(ids), tuple(ids)))


def fault_json(rule: FaultRule, remaining: int | None, fired: int) -> JSON:
    return {**record_json(rule), **record_json(FaultCounters(rule.reply or None, remaining, fired))}


def fault_list_json(states: Sequence[FaultState]) -> JSON:
    return {"faults": [fault_json(s.rule, s.remaining, s.fired) for s in states]}


def released_json(message_id: str, release: Release) -> JSON:
    return record_json(Released(message_id, release))


def frame(kind: str, data: Any) -> str:
    """One websocket text frame ``{"type": ..., "data": ...}``."""
    return json.dumps({"type": kind, "data": data}, separators=(",", ":"))


# --- decoding (what the pytest plugin reads from a server) -------------------------------------------------


def decode(kind: type[T], data: Any) -> T:
    """The inverse of ``encode`` for the shapes above: a dataclass from its JSON (extra keys ignored)."""
    return typing.cast(T, _decode(kind, data))


def decode_field(owner: type, name: str, data: JSON) -> Any:
    """One field of ``owner`` read from its JSON object, e.g. a full message's ``attachments``."""
    attr = dict(json_fields(owner))[name]
    return _decode(_hints(owner)[attr], data[name])


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = get_type_hints(cls)
    return found


_HINTS: dict[type, dict[str, Any]] = {}


def _decode(kind: Any, data: Any) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        if data is None:
            return None
        return _decode(next(a for a in get_args(kind) if a is not type(None)), data)
    if kind is datetime:
        return datetime.fromisoformat(data)
    if origin in (tuple, Sequence, list):
        args = get_args(kind)
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            return tuple(_decode(a, v) for a, v in zip(args, data, strict=True))
        return tuple(_decode(args[0], v) for v in data)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        fields = json_fields(kind)
        return kind(**{attr: _decode(hints[attr], data[name]) for name, attr in fields if name in data})
    return data


# --- JSON Schema ------------------------------------------------------------------------------------------


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema(kind: Any) -> JSON:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(option) for option in get_args(kind)]}
    if origin is Literal:
        return {"enum": list(get_args(kind))}
    if origin in (tuple, Sequence, list):
        args = get_args(kind)
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            items = [_schema(a) for a in args]
            return {"type": "array", "prefixItems": items, "minItems": len(args), "maxItems": len(args)}
        return {"type": "array", "items": _schema(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(get_args(kind)[1])}
    if dataclasses.is_dataclass(kind):
        return _ref(kind.__name__)  # type: ignore[union-attr]
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if kind is datetime:
        return {"type": "string", "format": "date-time"}
    if kind is type(None):
        return {"type": "null"}
    return {"type": simple[kind]}


def _object(cls: type, omit: frozenset[str] = frozenset()) -> JSON:
    hints = _hints(cls)
    properties = {name: _schema(hints[attr]) for name, attr in json_fields(cls) if name not in omit}
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


def _merged(first: JSON, then: JSON) -> JSON:
    """An object with the properties of both; those of ``then`` replace same-named ones of ``first``."""
    properties = {**first["properties"], **then["properties"]}
    return {**first, "required": list(properties), "properties": properties}


def _event(kind: str, data: JSON) -> JSON:
    return {
        "type": "object",
        "required": ["type", "data"],
        "additionalProperties": False,
        "properties": {"type": {"const": kind}, "data": data},
    }


_RECORDS: tuple[type, ...] = (
    Attachment, Envelope, MessageSummary, MessageWarning, Part, Session, MessageList, SessionList, Deleted,
    FaultsDeleted, Stats, Error, MailboxList, Marked, WebhookStatus, Release, Released, RelayItem,
    RelayQueue, TagList, Retagged,
)  # fmt: skip


def schemas_for(records: Sequence[type]) -> dict[str, JSON]:
    """The JSON Schema of each of these dataclasses and of every dataclass they nest, by class name."""
    found: dict[str, JSON] = {}
    pending = list(records)
    while pending:
        cls = pending.pop()
        if cls.__name__ in found:
            continue
        found[cls.__name__] = _object(cls)
        nested = _nested(_hints(cls).values())
        pending += [h for h in nested if isinstance(h, type) and dataclasses.is_dataclass(h)]
    return found


def _schemas() -> dict[str, JSON]:
    found = schemas_for(_RECORDS)
    found["Message"] = _merged(_object(MessageSummary), _object(Message, frozenset({_SUMMARY_FLATTENED})))
    found["FaultRule"] = _merged(_object(FaultRule), _object(FaultCounters))
    found["FaultList"] = {
        "type": "object",
        "required": ["faults"],
        "additionalProperties": False,
        "properties": {"faults": {"type": "array", "items": _ref("FaultRule")}},
    }
    found["SessionWithoutTranscript"] = _object(Session, _NO_TRANSCRIPT)
    # The answer of a ``wait`` that timed out: what matched so far, and why it is an error.
    found["WaitTimedOut"] = _merged(_object(Error), _object(MessageList))
    found["Event"] = {
        "oneOf": [
            _event("message.new", _ref("MessageSummary")),
            _event("message.updated", _ref("MessageSummary")),
            _event("messages.updated", _object(MessagesUpdated)),
            _event("message.deleted", {"oneOf": [_object(Ids), _object(Pruned)]}),
            _event("messages.cleared", _object(Ids)),
            _event("messages.tagged", _object(MessagesTagged)),
            _event("session.ended", _ref("SessionWithoutTranscript")),
            _event("message.released", _ref("Released")),
            _event("subscribed", _object(Subscribed)),
            _event("error", {"type": "object", "required": ["error"], "properties": {"error": {}}}),
            _event("ping", {"type": "null"}),
            _event("pong", {"type": "null"}),
        ]
    }
    return dict(sorted(found.items()))


def _nested(hints: Any) -> list[Any]:
    out: list[Any] = []
    for hint in hints:
        out.append(hint)
        out += _nested(get_args(hint))
    return out


SCHEMAS = _schemas()
