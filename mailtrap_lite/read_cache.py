"""What reads of a message have parsed, kept so the next read does not parse it again.

Parsing a large message costs seconds and several times its size in memory; a client that downloads an
attachment, or six clients downloading it at once, would otherwise pay that on every request. Concurrent
requests for the same entry share one load (single flight), and finished entries are kept in a
least-recently-used order bounded by their total size in bytes.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

# The most parsed bytes kept; an entry larger than this is served but not kept.
READ_CACHE_BYTES = 64 * 1024 * 1024


class ReadCache(Generic[V]):
    """Entries keyed by ``(message id, what)``: everything of one message is dropped at once."""

    def __init__(self, max_bytes: int = READ_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: collections.OrderedDict[tuple[str, Hashable], tuple[V, int]] = (
            collections.OrderedDict()
        )
        self._loading: dict[tuple[str, Hashable], asyncio.Task[tuple[V, int]]] = {}
        self._keys: dict[str, set[Hashable]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, message_id: str, what: Hashable, load: Callable[[], Awaitable[tuple[V, int]]]) -> V:
        """The entry, loaded by ``load`` (which returns it and its size in bytes) when it is not kept.

        A caller that is cancelled does not cancel a load other callers wait for.
        """
        key = (message_id, what)
        kept = self._entries.get(key)
        if kept is not None:
            self._entries.move_to_end(key)
            return kept[0]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(load())
            self._loading[key] = task
            task.add_done_callback(lambda done: self._loaded(key, done))
        value, _size = await asyncio.shield(task)
        return value

    def _loaded(self, key: tuple[str, Hashable], task: asyncio.Task[tuple[V, int]]) -> None:
        failed = task.cancelled() or task.exception() is not None
        if self._loading.get(key) is not task:  # invalidated while loading: what it read may be stale
            return
        del self._loading[key]
        if failed:
            return
        value, size = task.result()
        if size > self.max_bytes:
            return
        self._entries[key] = (value, size)
        self._keys.setdefault(key[0], set()).add(key[1])
        self.bytes += size
        while self.bytes > self.max_bytes:
            (old_id, old_what), (_value, old_size) = self._entries.popitem(last=False)
            self.bytes -= old_size
            self._forget_key(old_id, old_what)

    def _forget_key(self, message_id: str, what: Hashable) -> None:
        whats = self._keys.get(message_id)
        if whats is not None:
            whats.discard(what)
            if not whats:
                del self._keys[message_id]

    def invalidate(self, message_ids: list[str]) -> None:
        """Forget these messages, and make loads of them already under way not be kept."""
        doomed = set(message_ids)
        for key in [key for key in self._loading if key[0] in doomed]:
            del self._loading[key]
        for message_id in doomed:
            for what in self._keys.pop(message_id, set()):
                _value, size = self._entries.pop((message_id, what))
                self.bytes -= size

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._keys.clear()
        self.bytes = 0
