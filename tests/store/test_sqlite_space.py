"""Deleted mail gives its disk space back, in slices, while the writer is otherwise idle."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from mailtrap_lite.store import Store
from mailtrap_lite.store.sqlite import SQLiteStore
from tests.store.helpers import new_message, new_session, run
from tests.store.test_sqlite import V1_DDL

MESSAGES = 1500
BODY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 180  # ~10 KB


def test_deleting_everything_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    session = new_session()
    first = new_message(session, 0)
    messages = [new_message(session, n, body=f"{n} {BODY}") for n in range(1, MESSAGES + 1)]

    async def scenario(store: Store) -> tuple[int, int, int]:
        async def size() -> int:
            return (await store.stats()).db_size or 0

        await store.add(first, session)
        empty = await size()
        for start in range(0, MESSAGES, 100):
            await asyncio.gather(*(store.add(stored, session) for stored in messages[start : start + 100]))
        full = await size()
        assert len(await store.delete_matching(None)) == MESSAGES + 1
        async with asyncio.timeout(120):
            while await size() > empty + full // 4:
                await asyncio.sleep(0.05)
        await store.add(new_message(session, MESSAGES + 1), session)  # the database still works
        return empty, full, await size()

    empty, full, after = run(SQLiteStore(path), scenario)
    assert full > 3 * (empty + full // 4)  # the messages made it much larger...
    assert after <= empty + full // 4  # ...and deleting them gave that back
    assert path.stat().st_size < full // 4


def test_an_existing_database_is_converted_to_give_space_back(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_DDL)
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    db.close()
    run(SQLiteStore(path), lambda store: asyncio.sleep(0))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    db.close()
