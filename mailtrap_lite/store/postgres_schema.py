"""The PostgreSQL schema, as a list of forward migrations, and the optional trigram index.

``mailtrap_lite_schema.version`` records the last migration applied. Migrations are history: never edit
one that has shipped, add the next. They run in one transaction under an advisory lock, so when several
instances start together one migrates and the others wait, then find the work done.

Tables (version 1; version 2 below):

- ``messages``: one row per message: ``seq`` (insertion order: paging, retention), the search columns of
  ``mailtrap_lite.search`` (NUL characters, which PostgreSQL text cannot hold, replaced as ``NUL`` below
  says), ``session_id``, ``summary`` (codec JSON of the MessageSummary, the source of truth for what the
  API shows), ``body_text`` and ``raw`` (the bytes as acknowledged; stored out of line uncompressed,
  so scans never read them and a 10 MB message costs no compression).
- ``sessions``: codec JSON of each Session but its transcript; ``delivered`` and ``live`` (how many of
  its messages are still stored) drive the pruning of sessions with their messages.
- ``transcripts``: a session's transcript in chunks, one per save, each the JSON list of the lines added
  since the last: a session carrying thousands of messages never rewrites its whole transcript.
- ``counters``: one row kept exact by triggers, so totals and stats never count rows.
- ``fault_rules``: the fault rules every instance applies, with what each has left to fire.

Version 2: ``mailboxes`` (per mailbox holding messages, its ``messages``, ``unread`` and ``bytes``, kept
exact by triggers; a mailbox's row goes with its last message) and the index ``messages_mailbox``, so one
mailbox is listed and counted without reading the others; ``relay_queue``, codec JSON of each RelayItem
of the store-and-forward queue (a message's releases are in its ``summary``); a session goes with its last
message.

Version 3: ``meta`` holds ``uidvalidity``, set once when the table is created; a message's IMAP UID is
its ``seq``, which an identity column never hands out twice; the partial index ``messages_tagged`` finds
the tagged messages without reading the others.

With the ``pg_trgm`` extension (created when the role may; many managed databases allow it), a GIN
trigram index over the substring columns lets a search skip the messages that cannot match; without it a
search scans, with the same results.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, errors, sql

from mailtrap_lite.errors import StoreError

# Advisory lock keys (one 64-bit space per database): "mtlt" and what the lock guards.
MIGRATION_LOCK = 0x6D746C74_0001
RETENTION_LOCK = 0x6D746C74_0002

NUL = "\ufffe"  # a noncharacter: what a NUL in searchable text is stored (and searched) as

TRIGRAM_COLUMNS = (
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
# Needles never hold a newline (search normalises whitespace), so none matches across two columns.
TRIGRAM_TEXT = "(" + " || E'\\n' || ".join(TRIGRAM_COLUMNS) + ")"

_V1 = """
CREATE TABLE messages (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    session_id text NOT NULL,
    mailbox text NOT NULL, received_at double precision NOT NULL, size bigint NOT NULL,
    read integer NOT NULL,
    subject text NOT NULL, from_text text NOT NULL, to_text text NOT NULL, cc_text text NOT NULL,
    bcc_text text NOT NULL, mail_from text NOT NULL, rcpt_text text NOT NULL,
    attachments integer NOT NULL, tags_text text NOT NULL, warnings_text text NOT NULL,
    summary text NOT NULL,
    body_text text NOT NULL,
    raw bytea NOT NULL
);
ALTER TABLE messages ALTER COLUMN raw SET STORAGE EXTERNAL;
CREATE INDEX messages_received_at ON messages (received_at);
CREATE INDEX messages_session ON messages (session_id);
CREATE TABLE sessions (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    delivered boolean NOT NULL,
    live integer NOT NULL DEFAULT 0,
    data text NOT NULL
);
CREATE INDEX sessions_orphaned ON sessions (seq) WHERE delivered AND live = 0;
CREATE INDEX sessions_empty ON sessions (seq) WHERE NOT delivered;
CREATE TABLE transcripts (
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    first integer NOT NULL,
    lines text NOT NULL,
    PRIMARY KEY (session_id, first)
);
CREATE TABLE counters (
    one integer PRIMARY KEY CHECK (one = 1),
    messages bigint NOT NULL, unread bigint NOT NULL, bytes bigint NOT NULL, sessions bigint NOT NULL
);
INSERT INTO counters VALUES (1, 0, 0, 0, 0);
CREATE TABLE fault_rules (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule text NOT NULL,
    remaining integer,
    fired integer NOT NULL DEFAULT 0
);

CREATE FUNCTION mailtrap_message_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE counters SET messages = messages + 1, unread = unread + (NEW.read = 0)::int,
        bytes = bytes + NEW.size;
    UPDATE sessions SET live = live + 1 WHERE id = NEW.session_id;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_inserted AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION mailtrap_message_inserted();
CREATE FUNCTION mailtrap_message_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE counters SET messages = messages - 1, unread = unread - (OLD.read = 0)::int,
        bytes = bytes - OLD.size;
    UPDATE sessions SET live = live - 1 WHERE id = OLD.session_id;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_deleted AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION mailtrap_message_deleted();
CREATE FUNCTION mailtrap_message_read() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE counters SET unread = unread + (NEW.read = 0)::int - (OLD.read = 0)::int;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_read AFTER UPDATE OF read ON messages
    FOR EACH ROW WHEN (OLD.read IS DISTINCT FROM NEW.read) EXECUTE FUNCTION mailtrap_message_read();
CREATE FUNCTION mailtrap_session_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE counters SET sessions = sessions + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
    RETURN NULL;
END $$;
CREATE TRIGGER sessions_counted AFTER INSERT OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION mailtrap_session_counted();
"""

_V2 = """
CREATE INDEX messages_mailbox ON messages (mailbox, seq);
CREATE TABLE mailboxes (
    name text PRIMARY KEY, messages bigint NOT NULL, unread bigint NOT NULL, bytes bigint NOT NULL
);
INSERT INTO mailboxes SELECT mailbox, count(*), sum(1 - read), sum(size) FROM messages GROUP BY mailbox;
CREATE FUNCTION mailtrap_mailbox_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO mailboxes VALUES (NEW.mailbox, 1, (NEW.read = 0)::int, NEW.size)
            ON CONFLICT (name) DO UPDATE SET messages = mailboxes.messages + 1,
            unread = mailboxes.unread + EXCLUDED.unread, bytes = mailboxes.bytes + EXCLUDED.bytes;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE mailboxes SET messages = messages - 1, unread = unread - (OLD.read = 0)::int,
            bytes = bytes - OLD.size WHERE name = OLD.mailbox;
        DELETE FROM mailboxes WHERE name = OLD.mailbox AND messages = 0;
    ELSE
        UPDATE mailboxes SET unread = unread + (NEW.read = 0)::int - (OLD.read = 0)::int
            WHERE name = NEW.mailbox;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mailbox_message_counted AFTER INSERT OR DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION mailtrap_mailbox_counted();
CREATE TRIGGER mailbox_message_read AFTER UPDATE OF read ON messages
    FOR EACH ROW WHEN (OLD.read IS DISTINCT FROM NEW.read) EXECUTE FUNCTION mailtrap_mailbox_counted();
DELETE FROM sessions WHERE delivered AND live = 0;
CREATE TABLE relay_queue (id text PRIMARY KEY, created_at text NOT NULL, data text NOT NULL);
"""

_V3 = """
CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO meta VALUES ('uidvalidity', greatest(1, extract(epoch FROM now())::bigint % 4294967295));
CREATE INDEX messages_tagged ON messages (seq) WHERE tags_text != '';
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)  # MIGRATIONS[n - 1] brings a database to version n
SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(db: AsyncConnection[Any], where: str) -> bool:
    """Bring the database to SCHEMA_VERSION and the trigram index up to date; returns whether searches
    have the index. Raises StoreError when the database belongs to a newer mailtrap-lite or holds a
    ``messages`` table that is not ours."""
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await db.execute("CREATE TABLE IF NOT EXISTS mailtrap_lite_schema (version integer NOT NULL)")
        row = await (await db.execute("SELECT max(version) FROM mailtrap_lite_schema")).fetchone()
        version = int(row[0]) if row and row[0] is not None else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{where} was written by a newer mailtrap-lite (schema version {version}; this version "
                f"reads up to {SCHEMA_VERSION}): upgrade mailtrap-lite or use another --db"
            )
        if version == 0:
            found = await (await db.execute("SELECT to_regclass('messages') IS NOT NULL")).fetchone()
            if found and found[0]:
                raise StoreError(f"{where} holds a messages table that mailtrap-lite did not write")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await db.execute(MIGRATIONS[target - 1].encode())
            await db.execute("INSERT INTO mailtrap_lite_schema VALUES (%s)", (target,))
        return await _trigram_index(db)


async def _trigram_index(db: AsyncConnection[Any]) -> bool:
    """Create pg_trgm and the index when allowed; the caller's transaction survives a refusal."""
    try:
        async with db.transaction():
            await db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except (errors.InsufficientPrivilege, errors.FeatureNotSupported, errors.UndefinedFile):
        return False
    except errors.ObjectNotInPrerequisiteState:
        return False
    index = sql.SQL("CREATE INDEX IF NOT EXISTS messages_trigrams ON messages USING gin ({} gin_trgm_ops)")
    await db.execute(index.format(sql.SQL(TRIGRAM_TEXT)))
    return True
