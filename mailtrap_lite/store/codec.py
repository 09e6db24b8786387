"""Lossless JSON for the model dataclasses, for stores that keep summaries and sessions as text.

``model.to_json`` is the HTTP shape: it rounds times to milliseconds and renames ``from_``. A store needs
the exact value back, so this codec keeps field names and full-precision times, and decodes by the
dataclass field types. Fields missing from older JSON take their defaults, so adding a field with a
default never needs a data migration.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any, Literal, TypeVar, Union

from mailtrap_lite.model import MessageSummary, Session

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def encode(value: object) -> str:
    """A model dataclass as compact JSON text."""
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _decode(inner, value)
    if origin is tuple:
        return tuple(_decode(typing.get_args(kind)[0], v) for v in value)
    if origin is list:
        return [_decode(typing.get_args(kind)[0], v) for v in value]
    if origin is Literal:
        return value
    if kind is datetime:
        return datetime.fromisoformat(value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        known = {f.name for f in dataclasses.fields(kind)}
        make: Any = kind
        return make(**{name: _decode(hints[name], v) for name, v in value.items() if name in known})
    return value


def decode(cls: type[T], text: str) -> T:
    """The inverse of ``encode`` for the dataclass ``cls``."""
    result: T = _decode(cls, json.loads(text))
    return result


def summary_from_json(text: str) -> MessageSummary:
    return decode(MessageSummary, text)


def session_from_json(text: str) -> Session:
    return decode(Session, text)
