"""Identifiers that sort by creation time (like ULIDs): 10 chars of milliseconds, 6 of a counter."""

from __future__ import annotations

import itertools
import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase: URL- and filename-safe
_counter = itertools.count(int.from_bytes(os.urandom(2), "big"))


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id() -> str:
    """A 16-character id; ids made later in the same process sort after earlier ones."""
    return _encode(time.time_ns() // 1_000_000, 10) + _encode(next(_counter) % 32**6, 6)
