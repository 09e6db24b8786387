"""The SQLite schema, as a list of forward migrations; ``PRAGMA user_version`` records the last one applied.

A new database runs every migration in order, so the upgrade path is the path every database takes.
Migrations are history: never edit one that has shipped, add the next. Each runs in one transaction with
its version bump, so a crash mid-migration leaves the previous version intact.

Tables (version 7):

- ``messages``: one row per message: ``seq`` (insertion order: paging, retention; never reused, so a
  slice of rows read for deletion cannot hit a newer message), the search columns of
  ``mailtrap_lite.search`` (``to_sql`` filters this table), ``session_id``, ``summary`` (codec JSON of the
  MessageSummary, the source of truth for what the API shows) and ``body_text`` last, so that scans over
  the small columns rarely read it.
  The index ``messages_mailbox`` on ``(mailbox, seq)`` lists one mailbox newest first without reading the
  others (since version 4).
- ``mailboxes``: per mailbox holding messages, its ``messages``, ``unread`` and ``bytes``, kept exact by
  triggers like ``counters``; a mailbox's row goes with its last message.
- ``message_tags``: the tag index (since version 6), a row per tag of each message (as ``tag:`` compares
  it, ``search.tag_key``) with its ``seq``: a ``tag:`` search reads only the rows of that tag, and tag
  counts read no summary. The writer keeps it with ``messages``; a trigger deletes a message's rows.
- ``raw``: the bytes as acknowledged, keyed by ``seq``, apart so that scans never drag them along.
- ``sessions``: codec JSON of each Session but its transcript; ``delivered`` (it carried messages) and
  ``live`` (how many of them are still stored) drive the deletion of sessions with their last message.
- ``transcripts``: the transcript lines of each session. A session is saved with every message it carries
  and the transcript only grows, so each save appends the new lines instead of rewriting them all.
- ``counters``: one row kept exact by triggers, so totals and stats never count rows. Its ``clearing``
  flag was set while every message was deleted in one transaction (the index was then emptied in one
  step); that held arriving mail for seconds, and every delete now goes in slices, so it stays 0.
  ``indexed`` is the last ``seq`` the full-text index covers. ``uid_validity`` (version 7) is the IMAP
  UIDVALIDITY of every mailbox; a message's IMAP UID is its ``seq``, also in its summary.
- ``messages_fts``: an FTS5 trigram index over the substring columns, a pre-filter for searches. It keeps
  no positions or columns (``detail = none``): that halves the cost of indexing a message, and a
  pre-filter only has to let every match through. Since version 3 it is filled after the commit that
  acknowledges a message, by the writer when it is idle (``SQLiteStore`` explains why); messages past
  ``counters.indexed`` are not in it yet, and searches take them all as candidates.
- ``relay_queue`` (version 5): codec JSON of each RelayItem of the store-and-forward queue. A message's
  releases are in its ``summary``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailtrap_lite.errors import StoreError

APPLICATION_ID = 0x6D746C74  # "mtlt": marks a file as ours in its header (PRAGMA application_id)

FTS_COLUMNS = (
    "subject",
    "from_text",
    "to_text",
    "cc_text",
    "bcc_text",
    "mail_from",
    "rcpt_text",
    "warnings_text",
    "body_text",
)
_FTS_LIST = ", ".join(FTS_COLUMNS)
_FTS_NEW = ", ".join(f"new.{column}" for column in FTS_COLUMNS)
_FTS_OLD = ", ".join(f"old.{column}" for column in FTS_COLUMNS)

_V1 = f"""
PRAGMA application_id = {APPLICATION_ID};
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    mailbox TEXT NOT NULL, received_at REAL NOT NULL, size INTEGER NOT NULL, read INTEGER NOT NULL,
    subject TEXT NOT NULL, from_text TEXT NOT NULL, to_text TEXT NOT NULL, cc_text TEXT NOT NULL,
    bcc_text TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_text TEXT NOT NULL,
    attachments INTEGER NOT NULL, tags_text TEXT NOT NULL, warnings_text TEXT NOT NULL,
    summary TEXT NOT NULL,
    body_text TEXT NOT NULL
);
CREATE INDEX messages_received_at ON messages (received_at);
CREATE INDEX messages_session ON messages (session_id);
CREATE TABLE raw (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE sessions (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    delivered INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE transcripts (
    session_seq INTEGER NOT NULL, n INTEGER NOT NULL,
    t_ms INTEGER NOT NULL, dir TEXT NOT NULL, line TEXT NOT NULL, fault_id TEXT,
    PRIMARY KEY (session_seq, n)
) WITHOUT ROWID;
CREATE TRIGGER messages_raw_deleted AFTER DELETE ON messages BEGIN
    DELETE FROM raw WHERE seq = old.seq;
END;
CREATE TRIGGER sessions_transcript_deleted AFTER DELETE ON sessions BEGIN
    DELETE FROM transcripts WHERE session_seq = old.seq;
END;
"""

_V2 = f"""
ALTER TABLE sessions ADD COLUMN live INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET live = (SELECT count(*) FROM messages WHERE messages.session_id = sessions.id);
CREATE INDEX sessions_orphaned ON sessions (seq) WHERE delivered = 1 AND live = 0;
CREATE INDEX sessions_empty ON sessions (seq) WHERE delivered = 0;

CREATE TABLE counters (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    messages INTEGER NOT NULL, unread INTEGER NOT NULL, bytes INTEGER NOT NULL, sessions INTEGER NOT NULL,
    clearing INTEGER NOT NULL DEFAULT 0
);
INSERT INTO counters (one, messages, unread, bytes, sessions) VALUES (
    1,
    (SELECT count(*) FROM messages),
    (SELECT count(*) FROM messages WHERE read = 0),
    (SELECT coalesce(sum(size), 0) FROM messages),
    (SELECT count(*) FROM sessions)
);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    {_FTS_LIST}, content = 'messages', content_rowid = 'seq',
    tokenize = 'trigram case_sensitive 1', detail = none
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_inserted AFTER INSERT ON messages BEGIN
    UPDATE counters SET messages = messages + 1, unread = unread + (new.read = 0), bytes = bytes + new.size;
    UPDATE sessions SET live = live + 1 WHERE id = new.session_id;
    INSERT INTO messages_fts (rowid, {_FTS_LIST}) VALUES (new.seq, {_FTS_NEW});
END;
CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN
    UPDATE counters SET messages = messages - 1, unread = unread - (old.read = 0), bytes = bytes - old.size;
    UPDATE sessions SET live = live - 1 WHERE id = old.session_id;
    INSERT INTO messages_fts (messages_fts, rowid, {_FTS_LIST})
        SELECT 'delete', old.seq, {_FTS_OLD} WHERE NOT (SELECT clearing FROM counters);
END;
CREATE TRIGGER messages_read AFTER UPDATE OF read ON messages BEGIN
    UPDATE counters SET unread = unread + (new.read = 0) - (old.read = 0);
END;
CREATE TRIGGER sessions_inserted AFTER INSERT ON sessions BEGIN
    UPDATE counters SET sessions = sessions + 1;
END;
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions BEGIN
    UPDATE counters SET sessions = sessions - 1;
END;
"""

_V3 = f"""
ALTER TABLE counters ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
UPDATE counters SET indexed = coalesce((SELECT max(seq) FROM messages), 0);
DROP TRIGGER messages_inserted;
CREATE TRIGGER messages_inserted AFTER INSERT ON messages BEGIN
    UPDATE counters SET messages = messages + 1, unread = unread + (new.read = 0), bytes = bytes + new.size;
    UPDATE sessions SET live = live + 1 WHERE id = new.session_id;
END;
DROP TRIGGER messages_deleted;
CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN
    UPDATE counters SET messages = messages - 1, unread = unread - (old.read = 0), bytes = bytes - old.size;
    UPDATE sessions SET live = live - 1 WHERE id = old.session_id;
    INSERT INTO messages_fts (messages_fts, rowid, {_FTS_LIST})
        SELECT 'delete', old.seq, {_FTS_OLD} FROM counters WHERE NOT clearing AND old.seq <= indexed;
END;
"""

_V4 = """
CREATE INDEX messages_mailbox ON messages (mailbox, seq);
CREATE TABLE mailboxes (
    name TEXT PRIMARY KEY, messages INTEGER NOT NULL, unread INTEGER NOT NULL, bytes INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO mailboxes SELECT mailbox, count(*), sum(read = 0), sum(size) FROM messages GROUP BY mailbox;
CREATE TRIGGER mailbox_message_inserted AFTER INSERT ON messages BEGIN
    INSERT INTO mailboxes (name, messages, unread, bytes) VALUES (new.mailbox, 1, new.read = 0, new.size)
        ON CONFLICT (name) DO UPDATE SET messages = messages + 1, unread = unread + excluded.unread,
        bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER mailbox_message_deleted AFTER DELETE ON messages BEGIN
    UPDATE mailboxes SET messages = messages - 1, unread = unread - (old.read = 0), bytes = bytes - old.size
        WHERE name = old.mailbox;
    DELETE FROM mailboxes WHERE name = old.mailbox AND messages = 0;
END;
CREATE TRIGGER mailbox_message_read AFTER UPDATE OF read ON messages BEGIN
    UPDATE mailboxes SET unread = unread + (new.read = 0) - (old.read = 0) WHERE name = new.mailbox;
END;
DELETE FROM sessions WHERE delivered = 1 AND live = 0;
"""

_V5 = """
CREATE TABLE relay_queue (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, data TEXT NOT NULL);
"""

# The tag index, filled from the search column that holds each message's tags a line each.
_V6 = """
CREATE TABLE message_tags (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq)) WITHOUT ROWID;
CREATE INDEX message_tags_seq ON message_tags (seq);
WITH RECURSIVE split (seq, tag, rest) AS (
    SELECT seq, NULL, substr(tags_text, 2) FROM messages WHERE tags_text != ''
    UNION ALL
    SELECT seq, substr(rest, 1, instr(rest, char(10)) - 1), substr(rest, instr(rest, char(10)) + 1)
    FROM split WHERE rest != ''
)
INSERT OR IGNORE INTO message_tags (tag, seq) SELECT tag, seq FROM split WHERE tag != '';
CREATE TRIGGER message_tags_deleted AFTER DELETE ON messages BEGIN
    DELETE FROM message_tags WHERE seq = old.seq;
END;
"""

# IMAP: a message's UID is its seq; UIDVALIDITY is when the database first had UIDs (a new file starts
# the count again, and with a new time its UIDVALIDITY differs). Summaries written before get their UID.
_V7 = """
ALTER TABLE counters ADD COLUMN uid_validity INTEGER NOT NULL DEFAULT 1;
UPDATE counters SET uid_validity = max(1, CAST(strftime('%s', 'now') AS INTEGER) % 4294967295);
UPDATE messages SET summary = json_set(summary, '$.uid', seq);
"""

MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6,
    _V7,
)  # MIGRATIONS[n - 1] brings a database to version n
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection, path: Path) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it had. Raises StoreError when the file
    belongs to another program or to a newer mailtrap-lite."""
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    objects = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id != APPLICATION_ID and (application_id, version, objects) != (0, 0, 0):
        raise StoreError(f"{path} is a SQLite database, but not one that mailtrap-lite wrote")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer mailtrap-lite (schema version {version}; this version "
            f"reads up to {SCHEMA_VERSION}): upgrade mailtrap-lite or use another --db"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        # executescript commits any open transaction first, so the script brackets its own.
        script = f"BEGIN IMMEDIATE;\n{MIGRATIONS[target - 1]}\nPRAGMA user_version = {target};\nCOMMIT;"
        try:
            connection.executescript(script)
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    return int(version)
