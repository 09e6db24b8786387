"""What only the SQLite store promises: durability, migrations, clear start-up errors, group commit."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mailtrap_lite.errors import StoreError
from mailtrap_lite.model import Arrival, Envelope, Recipient, TranscriptLine
from mailtrap_lite.search import sql_row_values
from mailtrap_lite.store import Retention, Store
from mailtrap_lite.store.codec import encode
from mailtrap_lite.store.sqlite import SQLiteStore
from mailtrap_lite.store.sqlite_schema import APPLICATION_ID, SCHEMA_VERSION
from mailtrap_lite.store.sqlite_wire import BLOB_BYTES
from tests.store.helpers import new_message, new_session, run
from tests.test_search import q

# Schema version 1 as it was, written out here on purpose: a later edit of the migrations must still
# open a database that this DDL created.
V1_DDL = f"""
PRAGMA application_id = {APPLICATION_ID};
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, session_id TEXT NOT NULL,
    mailbox TEXT NOT NULL, received_at REAL NOT NULL, size INTEGER NOT NULL, read INTEGER NOT NULL,
    subject TEXT NOT NULL, from_text TEXT NOT NULL, to_text TEXT NOT NULL, cc_text TEXT NOT NULL,
    bcc_text TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_text TEXT NOT NULL,
    attachments INTEGER NOT NULL, tags_text TEXT NOT NULL, warnings_text TEXT NOT NULL,
    summary TEXT NOT NULL, body_text TEXT NOT NULL
);
CREATE INDEX messages_received_at ON messages (received_at);
CREATE INDEX messages_session ON messages (session_id);
CREATE TABLE raw (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE sessions (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, delivered INTEGER NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE transcripts (session_seq INTEGER NOT NULL, n INTEGER NOT NULL, t_ms INTEGER NOT NULL,
    dir TEXT NOT NULL, line TEXT NOT NULL, fault_id TEXT, PRIMARY KEY (session_seq, n)) WITHOUT ROWID;
CREATE TRIGGER messages_raw_deleted AFTER DELETE ON messages BEGIN DELETE FROM raw WHERE seq = old.seq; END;
CREATE TRIGGER sessions_transcript_deleted AFTER DELETE ON sessions BEGIN
    DELETE FROM transcripts WHERE session_seq = old.seq; END;
PRAGMA user_version = 1;
"""


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    session = dataclasses.replace(
        new_session(),
        transcript=(
            TranscriptLine(0, "S", "220 mailtrap-lite ESMTP", None),
            TranscriptLine(3, "C", "EHLO client.example", "f1"),
        ),
    )
    messages = [new_message(session, n) for n in range(3)]
    empty = new_session("s2")

    async def fill(store: Store) -> None:
        for stored in messages:
            await store.add(stored, session)
        await store.save_session(empty)
        await store.update("m0001", read=True, tags=("kept",))

    run(SQLiteStore(path), fill)

    async def check(store: Store) -> None:
        page = await store.list_messages()
        assert [m.id for m in page.messages] == ["m0002", "m0001", "m0000"]
        assert (page.total, page.unread) == (3, 2)
        assert await store.get_raw("m0000") == messages[0].raw
        kept = await store.get_summary("m0001")
        assert kept is not None and kept.read and kept.tags == ("kept",)
        delivered = dataclasses.replace(session, message_ids=("m0000", "m0001", "m0002"))
        assert await store.get_session("s1") == delivered
        assert (await store.list_sessions())[0] == 2
        assert [m.id for m in (await store.list_messages(q('"message number 2"'))).messages] == ["m0002"]

    run(SQLiteStore(path), check)


def test_add_returns_after_commit(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    session = new_session()
    stored = new_message(session, 7)

    async def scenario(store: Store) -> int:
        await store.add(stored, session)
        # Another connection, as after a crash, sees the message as soon as add returned.
        with sqlite3.connect(path) as other:
            count: int = other.execute("SELECT count(*) FROM messages WHERE id = 'm0007'").fetchone()[0]
        other.close()
        return count

    assert run(SQLiteStore(path), scenario) == 1


def test_messages_arriving_together_share_a_transaction(tmp_path: Path) -> None:
    session = new_session()
    messages = [new_message(session, n) for n in range(200)]
    store = SQLiteStore(tmp_path / "box.db")

    async def scenario(store: Store) -> int:
        assert isinstance(store, SQLiteStore) and store._writer is not None
        before = store._writer.transactions
        await asyncio.gather(*(store.add(stored, session) for stored in messages))
        assert (await store.stats()).messages == 200
        return store._writer.transactions - before

    assert run(store, scenario) < 100


def test_one_failing_write_does_not_sink_its_batch(tmp_path: Path) -> None:
    session = new_session()
    first, second = new_message(session, 1), new_message(session, 2)

    async def scenario(store: Store) -> list[object]:
        results = await asyncio.gather(
            store.add(first, session),
            store.add(first, session),
            store.add(second, session),
            return_exceptions=True,
        )
        assert [m.id for m in (await store.list_messages()).messages] == ["m0002", "m0001"]
        return results

    results = run(SQLiteStore(tmp_path / "box.db"), scenario)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], sqlite3.IntegrityError)


def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    session = new_session()
    old = [new_message(session, n, subject=f"Legacy {n}") for n in range(3)]
    with sqlite3.connect(path) as db:
        db.executescript(V1_DDL)
        for stored in old:
            row = sql_row_values(stored.summary, stored.body_text)
            row |= {"session_id": session.id, "summary": encode(stored.summary)}
            seq = db.execute(
                f"INSERT INTO messages ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            ).lastrowid
            db.execute("INSERT INTO raw VALUES (?, ?)", (seq, stored.raw))
        db.execute(
            "INSERT INTO sessions (id, delivered, data) VALUES (?, 1, ?)", (session.id, encode(session))
        )
    db.close()
    newer = new_message(session, 3, subject="Fresh")

    async def scenario(store: Store) -> None:
        page = await store.list_messages()
        assert [m.id for m in page.messages] == ["m0002", "m0001", "m0000"]
        assert (page.total, page.unread) == (3, 3)
        assert await store.get_raw("m0001") == old[1].raw
        # The mailbox index and counters were built from the old rows.
        assert [(s.name, s.total, s.unread) for s in await store.mailbox_stats()] == [("default", 3, 3)]
        assert (await store.list_messages(q("mailbox:default"), limit=1)).messages[0].id == "m0002"
        # The full-text index was built from the old rows.
        assert [m.id for m in (await store.list_messages(q("subject:legacy 1"))).messages] == ["m0001"]
        await store.add(newer, session)
        assert (await store.stats()).messages == 4
        assert await store.prune(Retention(max_messages=1, max_age_seconds=None)) == [
            "m0000",
            "m0001",
            "m0002",
        ]
        assert await store.get_session(session.id) is not None  # m0003 still needs it
        await store.delete(["m0003"])
        await store.prune(Retention(max_messages=1, max_age_seconds=None))
        assert await store.get_session(session.id) is None

    run(SQLiteStore(path), scenario)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def _open_error(path: Path) -> str:
    with pytest.raises(StoreError) as caught:
        run(SQLiteStore(path), lambda store: asyncio.sleep(0))
    return str(caught.value)


def test_a_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    garbage = b"this is not a database, but someone's notes\n" * 200
    path.write_bytes(garbage)
    assert "is not a usable SQLite database" in _open_error(path)
    assert path.read_bytes() == garbage


def test_a_truncated_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    session = new_session()
    stored = new_message(session, 1)

    async def fill(store: Store) -> None:
        await store.add(stored, session)

    run(SQLiteStore(path), fill)
    path.write_bytes(path.read_bytes()[:1500])  # the header survives, the schema pages do not
    assert f"the database {path} is corrupt" in _open_error(path)


@pytest.mark.parametrize(
    ("where", "reason"),
    [("missing/box.db", "does not exist"), ("file/box.db", "is not a directory"), (".", "it is a directory")],
)
def test_an_unusable_path_is_refused_clearly(tmp_path: Path, where: str, reason: str) -> None:
    (tmp_path / "file").write_text("a plain file")
    assert reason in _open_error(tmp_path / where)


def test_a_database_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (n INTEGER)")
    db.close()
    before = path.read_bytes()
    assert "not one that mailtrap-lite wrote" in _open_error(path)
    assert path.read_bytes() == before


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    run(SQLiteStore(path), lambda store: asyncio.sleep(0))
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    assert "written by a newer mailtrap-lite" in _open_error(path)


def indexed_documents(path: Path, term: str) -> int:
    """How many documents the full-text index itself lists under a trigram (fts5vocab reads the index
    alone: a deleted message that stayed indexed is counted)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, messages_fts, 'row')")
        row = db.execute("SELECT doc FROM vocabulary WHERE term = ?", (term,)).fetchone()
    db.close()
    return int(row[0]) if row else 0


def test_the_search_index_stays_consistent_through_every_kind_of_delete(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    session = new_session()
    first = [new_message(session, n, subject=f"Batch one {n}") for n in range(30)]
    later = new_message(session, 99, subject="After the clear")

    async def scenario(store: Store) -> None:
        for stored in first:
            await store.add(stored, session)
        assert isinstance(store, SQLiteStore)
        await store.index_now()
        assert indexed_documents(path, "bat") == 30
        await store.delete(["m0003"])
        await store.delete_matching(q("subject:2"))  # 2, 12, 20-29
        await store.prune(Retention(max_messages=10, max_age_seconds=None))
        assert indexed_documents(path, "bat") == (await store.stats()).messages == 10
        assert len(await store.delete_matching(None)) == 10
        await store.add(later, session)
        assert [m.id for m in (await store.list_messages(q('"after the clear"'))).messages] == ["m0099"]
        assert (await store.list_messages(q("batch"))).total == 0
        await store.index_now()

    run(SQLiteStore(path), scenario)
    assert (indexed_documents(path, "bat"), indexed_documents(path, "aft")) == (0, 1)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT seq FROM messages").fetchall() == [(31,)]  # seq is never reused
        assert db.execute("SELECT messages, unread, sessions FROM counters").fetchone() == (1, 1, 1)
    db.close()


def test_a_long_session_is_written_incrementally_and_reads_back_whole(tmp_path: Path) -> None:
    # Each message writes only the new transcript lines, and the session's JSON only when a field
    # other than its message ids changed; reading it back (here after a "crash": the session never
    # ended) still gives every line and every message id.
    path = tmp_path / "mail.db"
    session = new_session()
    lines = [TranscriptLine(number, "C", f"line {number}") for number in range(1, 41)]

    async def deliver(store: Store) -> None:
        nonlocal session
        for number in range(1, 41):
            session = dataclasses.replace(session, transcript=tuple(lines[:number]))
            if number == 20:
                session = dataclasses.replace(session, helo="renamed.example")
            await store.add(new_message(session, number), session)

    run(SQLiteStore(path), deliver)

    async def read(store: Store) -> None:
        kept = await store.get_session("s1")
        assert kept is not None
        assert kept.message_ids == tuple(f"m{n:04d}" for n in range(1, 41))
        assert [line.line for line in kept.transcript] == [f"line {n}" for n in range(1, 41)]
        assert kept.helo == "renamed.example"
        with sqlite3.connect(path) as db:  # one transcript row per line: nothing written twice
            assert db.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 40
        ended = dataclasses.replace(session, ended_at=session.started_at, message_ids=kept.message_ids)
        await store.save_session(ended)
        assert await store.get_session("s1") == ended

    run(SQLiteStore(path), read)


def test_messages_deleted_before_they_are_indexed_leave_the_index_consistent(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    session = new_session()
    messages = [new_message(session, n, subject=f"Batch {n}") for n in range(20)]

    async def scenario(store: Store) -> None:
        assert isinstance(store, SQLiteStore)
        for stored in messages[:10]:
            await store.add(stored, session)
        await store.index_now()
        for stored in messages[10:]:
            await store.add(stored, session)
        assert (await store.stats()).unindexed == 10
        await store.delete(["m0003", "m0013"])  # one indexed, one not
        await store.prune(Retention(max_messages=5, max_age_seconds=None))  # every indexed one, 10-14
        assert (await store.stats()).unindexed == 5
        assert (await store.list_messages(q("batch"))).total == 5
        await store.index_now()
        assert (await store.stats()).unindexed == 0
        assert indexed_documents(path, "bat") == 5
        assert [m.id for m in (await store.list_messages(q('"batch 1"'))).messages] == [
            f"m00{n}" for n in range(19, 14, -1)
        ]

    run(SQLiteStore(path, index_when_idle=False), scenario)


def test_the_index_catches_up_by_itself_when_the_writer_is_idle(tmp_path: Path) -> None:
    path = tmp_path / "box.db"
    session = new_session()
    messages = [new_message(session, n, subject=f"Batch {n}") for n in range(100)]

    async def scenario(store: Store) -> int:
        await asyncio.gather(*(store.add(stored, session) for stored in messages))
        async with asyncio.timeout(30):
            while (await store.stats()).unindexed:
                await asyncio.sleep(0.01)
        return indexed_documents(path, "bat")

    assert run(SQLiteStore(path), scenario) == 100


def test_large_messages_cross_to_the_writer_whole_and_in_order(tmp_path: Path) -> None:
    """Messages over BLOB_BYTES go to the writer process on their own socket; a caller that gives up
    half way (its client disconnected) must not leave the next message waiting or mixed up."""
    session = new_session()
    sizes = [BLOB_BYTES - 1, BLOB_BYTES, 3 * BLOB_BYTES + 7, 5_000_000, 100]
    bodies = [bytes([65 + n]) * size for n, size in enumerate(sizes)]
    envelope = Envelope("app@example.com", recipients=(Recipient("ann@example.com", 250, "Ok"),))

    def raw(body: bytes) -> bytes:
        return b"Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n" + body + b"\r\n"

    async def scenario(store: Store) -> list[bytes | None]:
        abandoned = asyncio.ensure_future(
            store.ingest(Arrival("gone", raw(b"Z" * 4_000_000), envelope, session))
        )
        await asyncio.sleep(0)
        abandoned.cancel()
        stored = await asyncio.gather(
            *(store.ingest(Arrival(f"m{n}", raw(body), envelope, session)) for n, body in enumerate(bodies))
        )
        assert [m.summary.size for m in stored] == [len(raw(body)) for body in bodies]
        return [await store.get_raw(f"m{n}") for n in range(len(bodies))]

    assert run(SQLiteStore(tmp_path / "box.db"), scenario) == [raw(body) for body in bodies]


def test_the_writer_process_runs_the_same_code_as_the_server(tmp_path: Path) -> None:
    """A server that found mailtrap-lite through its own sys.path (not PYTHONPATH, not the working
    directory) still gets a writer that imports the same package."""
    root = Path(__file__).resolve().parents[2]
    script = f"""
import asyncio, sys
sys.path.insert(0, {str(root)!r})
from mailtrap_lite.model import Arrival, Envelope, Session, utcnow
from mailtrap_lite.store.sqlite import SQLiteStore

async def main():
    store = SQLiteStore("box.db")
    await store.open()
    stored = await store.ingest(Arrival("m1", b"Subject: hi\\r\\n\\r\\nbody\\r\\n", Envelope("a@b.c"),
                                        Session("s1", "peer", utcnow())))
    await store.close()
    print(stored.summary.subject)

asyncio.run(main())
"""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout.strip()) == (0, "hi"), done.stderr
