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
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, Union

from mailtrap_lite.model import MessageSummary, Session

T = TypeVar("T")


def _same(value: Any) -> Any:
    return value


Convert = Callable[[Any], Any]


@cache
def _codec(kind: Any) -> tuple[Convert, Convert]:
    """The (to JSON-ready, from JSON) functions for values of the type ``kind``, built once per type."""
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        to_plain, from_plain = _codec(inner)
        return (
            lambda value: None if value is None else to_plain(value),
            lambda value: None if value is None else from_plain(value),
        )
    if origin in (tuple, list, Sequence):
        to_plain, from_plain = _codec(typing.get_args(kind)[0])
        sequence = list if origin is list else tuple
        if to_plain is _same and from_plain is _same:
            return list, sequence
        return (lambda value: [to_plain(v) for v in value], lambda value: sequence(map(from_plain, value)))
    if kind is datetime:
        return datetime.isoformat, datetime.fromisoformat
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = [(f.name, *_codec(hints[f.name])) for f in dataclasses.fields(kind)]
        make: Any = kind
        return (
            lambda value: {name: to_plain(getattr(value, name)) for name, to_plain, _ in fields},
            lambda value: make(
                **{name: from_plain(value[name]) for name, _, from_plain in fields if name in value}
            ),
        )
    return _same, _same  # str, int, bool, Literal


def encode(value: object) -> str:
    """A model dataclass as compact JSON text."""
    kind: Any = type(value)
    return json.dumps(_codec(kind)[0](value), ensure_ascii=False, separators=(",", ":"))


def decode(cls: type[T], text: str) -> T:
    """The inverse of ``encode`` for the dataclass ``cls``."""
    kind: Any = cls
    result: T = _codec(kind)[1](json.loads(text))
    return result


def summary_from_json(text: str) -> MessageSummary:
    return decode(MessageSummary, text)


def session_from_json(text: str) -> Session:
    return decode(Session, text)
