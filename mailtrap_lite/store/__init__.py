"""Message stores: ``memory`` (the default), ``sqlite`` (``--db PATH``) and ``postgresql`` (``--db
postgresql://...``), behind one protocol."""

from __future__ import annotations

from mailtrap_lite.config import Config
from mailtrap_lite.store.base import Retention, Store, StoreStats
from mailtrap_lite.store.memory import MemoryStore

__all__ = ["MemoryStore", "Retention", "Store", "StoreStats", "create_store"]


def create_store(config: Config) -> Store:
    if config.db is None:
        return MemoryStore(tag_rules=config.tag)
    if isinstance(config.db, str):
        from mailtrap_lite.store.postgres import PostgresStore

        return PostgresStore(config.db, tag_rules=config.tag)
    from mailtrap_lite.store.sqlite import SQLiteStore

    return SQLiteStore(config.db, tag_rules=config.tag)
