"""The jobs the SQLite writer process runs, by name: the table ``JOBS``.

The server submits a job as its name and its arguments (``WriterProcess.run``); the writer process looks
the name up here and runs ``work(connection, *arguments)`` in its next transaction, or, for a job with a
``prepare``, ``work(connection, *prepare(*arguments))``: ``prepare`` is the part that needs no database
(parsing), which the process may start before the job's turn. Nothing else crosses to the writer, so it
runs only what this table holds; the server checks names and arguments before sending anything.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mailtrap_lite.message import build_message
from mailtrap_lite.model import (
    Envelope,
    MessageSummary,
    RelayItem,
    Release,
    Session,
    StoredMessage,
    TranscriptLine,
    pickle_as_arguments,
)
from mailtrap_lite.search import flag_row_values, sql_row_values, tag_key
from mailtrap_lite.store.base import Retention
from mailtrap_lite.store.codec import encode, session_from_json, summary_from_json
from mailtrap_lite.store.sqlite_schema import FTS_COLUMNS
from mailtrap_lite.tags import TagRule, merge, tag_stored

Prepare = Callable[..., tuple[object, ...]]
F = TypeVar("F", bound=Callable[..., Any])

# One background indexing transaction takes this many messages, or this many of their bytes: a few
# milliseconds of work, the longest an arriving message can wait behind it.
INDEX_SLICE_MESSAGES = 32
INDEX_SLICE_BYTES = 256 * 1024
# Free pages given back to the file system per idle transaction (of 4 KB: a few milliseconds of work).
VACUUM_SLICE_PAGES = 256
PROBE_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    work: Callable[..., Any]  # work(connection, *arguments), or work(connection, *prepare(*arguments))
    prepare: Prepare | None = None


JOBS: dict[str, Job] = {}


def job(name: str, *, prepare: Prepare | None = None) -> Callable[[F], F]:
    """Register the decorated function in ``JOBS`` under ``name``."""

    def register(work: F) -> F:
        JOBS[name] = Job(work, prepare)
        return work

    return register


@job("index_slice")
def index_slice(db: sqlite3.Connection) -> bool:
    """Add the next few messages to the full-text index; returns whether more wait.

    Indexing is the costliest part of storing a small message (benchmarks/README.md): done in the
    transaction that acknowledges the message, it kept every client waiting on it.
    It runs instead when the writer process has nothing else to do."""
    indexed = db.execute("SELECT indexed FROM counters").fetchone()[0]
    rows = db.execute(
        "SELECT seq, size FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", (indexed, INDEX_SLICE_MESSAGES)
    ).fetchall()
    if not rows:
        return False
    upto, taken = indexed, 0
    for seq, size in rows:
        upto, taken = seq, taken + size
        if taken >= INDEX_SLICE_BYTES:
            break
    db.execute(
        f"INSERT INTO messages_fts (rowid, {', '.join(FTS_COLUMNS)}) "
        f"SELECT seq, {', '.join(FTS_COLUMNS)} FROM messages WHERE seq > ? AND seq <= ?",
        (indexed, upto),
    )
    db.execute("UPDATE counters SET indexed = ?", (upto,))
    return upto != rows[-1][0] or len(rows) == INDEX_SLICE_MESSAGES


def vacuum_slice(db: sqlite3.Connection) -> int:
    """Give back up to VACUUM_SLICE_PAGES free pages (what deleted mail left) to the file system; returns
    how many. The file shrinks at the next checkpoint."""
    freeing = min(int(db.execute("PRAGMA freelist_count").fetchone()[0]), VACUUM_SLICE_PAGES)
    # Each run of the statement frees one page: sqlite3 stops stepping a statement that returns no rows.
    for _ in range(freeing):
        db.execute("PRAGMA incremental_vacuum")
    return freeing


@job("probe")
def probe(db: sqlite3.Connection) -> None:
    """Write a row of PROBE_BYTES and remove it: after a write failed for want of space, this tells when
    there is room again without waiting for the next message."""
    db.execute("INSERT INTO raw (seq, data) VALUES (0, randomblob(?))", (PROBE_BYTES,))
    db.execute("DELETE FROM raw WHERE seq = 0")


@pickle_as_arguments  # it crosses to the writer process with every message
@dataclasses.dataclass(frozen=True, slots=True)
class _SessionChange:
    bare: Session  # without transcript and message ids
    delivered: bool
    message_ids: tuple[str, ...] | None  # set when the session's row has to be rewritten
    lines: Sequence[TranscriptLine]  # transcript lines not written yet; all of them when start is None
    start: int | None  # the number of the first of them; None: look it up


def _parse(
    change: _SessionChange,
    message_id: str,
    raw: bytes,
    envelope: Envelope,
    eight_bit: bool,
    mailbox: str,
    mailbox_rule: str,
    tags: tuple[str, ...],
    tag_rules: tuple[TagRule, ...],
) -> tuple[_SessionChange, StoredMessage]:
    stored = build_message(message_id, raw, envelope, change.bare.id, eight_bit, mailbox, mailbox_rule)
    return change, tag_stored(stored, tags, tag_rules)


@job("insert_parsed", prepare=_parse)
def _insert_parsed(
    db: sqlite3.Connection, change: _SessionChange, stored: StoredMessage
) -> tuple[MessageSummary, str]:
    return _insert_message(db, change, stored), stored.body_text


@job("insert_message")
def _insert_message(db: sqlite3.Connection, change: _SessionChange, message: StoredMessage) -> MessageSummary:
    _save_session(db, change)
    # The message's UID is its seq, which AUTOINCREMENT never reuses: the next one, named explicitly so
    # that the summary stored carries it.
    (uid,) = db.execute(
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0) + 1"
    ).fetchone()
    summary = dataclasses.replace(message.summary, uid=uid)
    row = sql_row_values(summary, message.body_text)
    row["seq"] = uid
    row["session_id"] = summary.session_id
    row["summary"] = encode(summary)
    cursor = db.execute(
        f"INSERT INTO messages ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
    )
    db.execute("INSERT INTO raw (seq, data) VALUES (?, ?)", (cursor.lastrowid, message.raw))
    _index_tags(db, cursor.lastrowid, summary.tags)
    return summary


def _index_tags(db: sqlite3.Connection, seq: int | None, tags: Sequence[str]) -> None:
    keys = {tag_key(tag) for tag in tags} - {""}
    db.executemany("INSERT INTO message_tags (tag, seq) VALUES (?, ?)", [(key, seq) for key in keys])


def _set_tags(db: sqlite3.Connection, seq: int, summary: MessageSummary) -> None:
    """Write a summary whose tags changed (and maybe its read flag): its columns and the tag index."""
    columns = flag_row_values(summary)
    db.execute(
        "UPDATE messages SET read = ?, tags_text = ?, summary = ? WHERE seq = ?",
        (columns["read"], columns["tags_text"], encode(summary), seq),
    )
    db.execute("DELETE FROM message_tags WHERE seq = ?", (seq,))
    _index_tags(db, seq, summary.tags)


@job("update_message")
def _update_message(
    db: sqlite3.Connection, message_id: str, read: bool | None, tags: tuple[str, ...] | None
) -> MessageSummary | None:
    row = db.execute("SELECT seq, summary FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    summary = summary_from_json(row[1])
    if read is not None:
        summary = dataclasses.replace(summary, read=read)
    if tags is not None:
        summary = dataclasses.replace(summary, tags=tags)
    _set_tags(db, row[0], summary)
    return summary


@job("retag_seqs")
def _retag_seqs(
    db: sqlite3.Connection, seqs: list[int], add: tuple[str, ...], remove: tuple[str, ...]
) -> list[tuple[str, str]]:
    """Change the tags of these messages as ``tags.merge`` does; returns (id, mailbox) of those that
    changed."""
    changed = []
    marks = ", ".join("?" * len(seqs))
    rows = db.execute(f"SELECT seq, id, summary FROM messages WHERE seq IN ({marks}) ORDER BY seq DESC", seqs)
    for seq, message_id, data in rows.fetchall():
        summary = summary_from_json(data)
        tags = merge(summary.tags, add, remove)
        if tags != summary.tags:
            _set_tags(db, seq, dataclasses.replace(summary, tags=tags))
            changed.append((str(message_id), summary.mailbox))
    return changed


_ORPHANED = "DELETE FROM sessions WHERE delivered = 1 AND live = 0"  # sessions whose messages are all gone


@job("delete_ids")
def _delete_ids(db: sqlite3.Connection, message_ids: list[str]) -> list[str]:
    deleted = [
        message_id
        for message_id in message_ids
        if db.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount
    ]
    db.execute(_ORPHANED)
    return deleted


@job("delete_seqs")
def _delete_seqs(db: sqlite3.Connection, rows: list[tuple[int, str]]) -> list[str]:
    marks = ", ".join("?" * len(rows))
    deleted = db.execute(
        f"DELETE FROM messages WHERE seq IN ({marks}) RETURNING seq", [seq for seq, _ in rows]
    )
    gone = {row[0] for row in deleted}
    db.execute(_ORPHANED)
    return [id_ for seq, id_ in rows if seq in gone]


@job("mark_seqs")
def _mark_seqs(db: sqlite3.Connection, rows: list[tuple[int, str]], read: bool) -> list[str]:
    """Set the read flag of these (seq, id) rows; returns the ids whose flag changed."""
    marks = ", ".join("?" * len(rows))
    changed = db.execute(
        f"UPDATE messages SET read = ?, summary = json_set(summary, '$.read', json(?)) "
        f"WHERE seq IN ({marks}) AND read != ? RETURNING seq",
        [int(read), "true" if read else "false", *(seq for seq, _ in rows), int(read)],
    )
    done = {row[0] for row in changed}
    return [id_ for seq, id_ in rows if seq in done]


@job("save_session")
def _save_final_session(db: sqlite3.Connection, change: _SessionChange) -> None:
    _save_session(db, change)
    # Every message it delivered was deleted while it was open: it goes with them.
    db.execute("DELETE FROM sessions WHERE id = ? AND delivered = 1 AND live = 0", (change.bare.id,))


def _save_session(db: sqlite3.Connection, change: _SessionChange) -> None:
    found = None
    session_id, delivered = change.bare.id, int(change.delivered)
    if change.message_ids is None:
        found = db.execute(
            "UPDATE sessions SET delivered = ? WHERE id = ? RETURNING seq", (delivered, session_id)
        ).fetchone()
    if found is None:  # a new session, a changed one, or one pruned meanwhile
        whole = change.bare
        if change.message_ids is not None:
            whole = dataclasses.replace(whole, message_ids=change.message_ids)
        found = db.execute(
            "INSERT INTO sessions (id, delivered, data, live) "
            "VALUES (?, ?, ?, (SELECT count(*) FROM messages WHERE session_id = ?)) ON CONFLICT (id) "
            "DO UPDATE SET delivered = excluded.delivered, data = excluded.data RETURNING seq",
            (session_id, delivered, encode(whole), session_id),
        ).fetchone()
    seq = found[0]
    lines, start = change.lines, change.start
    if start is None:  # lines is the whole transcript: skip what is stored already
        last = db.execute("SELECT max(n) FROM transcripts WHERE session_seq = ?", (seq,)).fetchone()[0]
        start = 0 if last is None else last + 1
        lines = lines[start:]
    rows = [(seq, n, line.t_ms, line.dir, line.line, line.fault_id) for n, line in enumerate(lines, start)]
    db.executemany("INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, ?)", rows)


def _load_session(db: sqlite3.Connection, seq: int, data: str) -> Session:
    rows = db.execute(
        "SELECT t_ms, dir, line, fault_id FROM transcripts WHERE session_seq = ? ORDER BY n", (seq,)
    )
    session = session_from_json(data)
    transcript = tuple(TranscriptLine(*row) for row in rows)
    # Its messages still stored, including those stored since the session's JSON was last written (see
    # SQLiteStore._session_change).
    stored = [
        str(row[0])
        for row in db.execute("SELECT id FROM messages WHERE session_id = ? ORDER BY seq", (session.id,))
    ]
    known = set(session.message_ids)
    still = set(stored)
    ids = (*(i for i in session.message_ids if i in still), *(i for i in stored if i not in known))
    return dataclasses.replace(session, transcript=transcript, message_ids=ids)


@job("prune_sessions")
def _prune_sessions(db: sqlite3.Connection, retention: Retention) -> None:
    # Sessions go with their messages; sessions that delivered nothing are kept up to the same count.
    db.execute("DELETE FROM sessions WHERE delivered = 1 AND live = 0")
    if retention.max_messages is None:
        return
    empty = db.execute("SELECT count(*) FROM sessions WHERE delivered = 0").fetchone()[0]
    if empty > retention.max_messages:
        db.execute(
            "DELETE FROM sessions WHERE seq IN "
            "(SELECT seq FROM sessions WHERE delivered = 0 ORDER BY seq LIMIT ?)",
            (empty - retention.max_messages,),
        )


@job("add_release")
def _add_release(
    db: sqlite3.Connection, message_id: str, release: Release, item: RelayItem | None
) -> MessageSummary | None:
    if item is not None:
        _save_relay_item(db, item)
    row = db.execute("SELECT summary FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    summary = summary_from_json(row[0])
    summary = dataclasses.replace(summary, releases=(*summary.releases, release))
    db.execute("UPDATE messages SET summary = ? WHERE id = ?", (encode(summary), message_id))
    return summary


@job("save_relay_item")
def _save_relay_item(db: sqlite3.Connection, item: RelayItem) -> None:
    if item.state == "sent":
        db.execute("DELETE FROM relay_queue WHERE id = ?", (item.id,))
        return
    db.execute(
        "INSERT INTO relay_queue (id, created_at, data) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        (item.id, item.created_at.isoformat(), encode(item)),
    )


@job("delete_relay_item")
def _delete_relay_item(db: sqlite3.Connection, item_id: str) -> bool:
    return db.execute("DELETE FROM relay_queue WHERE id = ?", (item_id,)).rowcount > 0
