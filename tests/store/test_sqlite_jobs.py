"""The SQLite writer process runs only named jobs; the server checks a job before sending it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mailtrap_lite.store import Store
from mailtrap_lite.store.sqlite import SQLiteStore
from tests.store.helpers import new_message, new_session, run


def test_an_unknown_job_fails_at_submit_and_the_writer_carries_on(tmp_path: Path) -> None:
    session = new_session()

    async def scenario(store: Store) -> None:
        assert isinstance(store, SQLiteStore) and store._writer is not None
        with pytest.raises(ValueError, match="no database job is named 'drop_everything'"):
            await store._writer.run("drop_everything")
        await store.add(new_message(session, 1), session)
        assert (await store.stats()).messages == 1

    run(SQLiteStore(tmp_path / "box.db"), scenario)


def test_an_argument_that_cannot_be_pickled_fails_at_submit(tmp_path: Path) -> None:
    session = new_session()

    async def scenario(store: Store) -> None:
        assert isinstance(store, SQLiteStore) and store._writer is not None
        with pytest.raises(TypeError, match="arguments of database job 'delete_ids' cannot be sent"):
            await store._writer.run("delete_ids", [threading.Lock()])
        # Nothing was sent: the next job is answered, and answered correctly.
        await store.add(new_message(session, 2), session)
        assert await store.delete(["m0002"]) == ["m0002"]

    run(SQLiteStore(tmp_path / "box.db"), scenario)


@pytest.mark.parametrize(
    "module",
    [
        "mailtrap_lite.store.sqlite_worker",
        "mailtrap_lite.store.sqlite_jobs",
        "mailtrap_lite.store.sqlite_db",
        "mailtrap_lite.store.sqlite_wire",
    ],
)
def test_the_writer_side_does_not_import_the_server_side(module: str) -> None:
    root = Path(__file__).resolve().parents[2]
    script = (
        f"import sys; sys.path.insert(0, {str(root)!r}); import {module}, json; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mailtrap_lite'))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert module in loaded
    assert not loaded & {"mailtrap_lite.store.sqlite", "mailtrap_lite.store.sqlite_writer"}
