"""What instances on one PostgreSQL database share besides the tables: live events and fault rules.

Events travel by LISTEN/NOTIFY on one channel, as small JSON payloads naming what changed (``{"i":
instance, "t": type, "id": ...}``); the instance that hears one reads the message or session it names
and publishes the event to its own hub, so every websocket and long-poll waiter sees it whichever
instance took the message. ``message.new`` is notified by the transaction that stores the message, so it
is heard exactly when the message is committed; the other events are relayed from the hub. Notifications
hold at most 8000 bytes: the ids of a large deletion go in several.

Fault rules live in the ``fault_rules`` table (this is the engine's ``FaultLedger``); a change is
notified and each instance reloads its copy. A firing is counted by one atomic ``UPDATE ... RETURNING``,
so a rule with ``times`` fires that many times across all instances together.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import re
from typing import Any

import psycopg

from mailtrap_lite.errors import StoreError
from mailtrap_lite.events import Event, EventHub
from mailtrap_lite.faults import FaultEngine, FaultRule, FaultState
from mailtrap_lite.model import MessageSummary, Session, to_json
from mailtrap_lite.store.codec import decode, encode
from mailtrap_lite.store.postgres import CHANNEL, Connection, PostgresStore
from mailtrap_lite.store.postgres_db import connect, conninfo
from mailtrap_lite.store.postgres_schema import MIGRATION_LOCK
from mailtrap_lite.store.postgres_writer import RECONNECT_INTERVAL
from mailtrap_lite.wire import session_json

log = logging.getLogger("mailtrap_lite")

IDS_PER_NOTICE = 200  # 16-character ids: well within a notification's 8000 bytes
_RULE_ID = re.compile(r"f(\d+)")
_NOTIFY_ALL = b"SELECT pg_notify(%s, notice) FROM unnest(%s::text[]) AS notice"


class Sharing:
    """Events and fault rules shared with the other instances on the store's database."""

    def __init__(self, store: PostgresStore, hub: EventHub, faults: FaultEngine) -> None:
        self.store = store
        self.hub = hub
        self.faults = faults
        self._outbox: list[str] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Add this instance's start-up rules to the shared ones (unless already there), take the shared
        rules, and begin relaying events both ways."""
        for state in self.faults.states():
            await self.store.writer().run(functools.partial(_insert_rule, rule=state.rule, only_new=True))
        self.faults.mirror(await self.current())
        self.faults.ledger = self
        self.hub.relay = self._relay
        listening = asyncio.get_running_loop().create_future()
        self._tasks = [
            asyncio.create_task(self._listen(listening)),
            asyncio.create_task(self._send()),
        ]
        await listening  # events published from now on reach the other instances

    async def close(self) -> None:
        self.hub.relay = None
        self.faults.ledger = None
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # --- events ------------------------------------------------------------------------------------------

    def _relay(self, event: Event) -> None:
        notices = [json.dumps({"i": self.store.instance, **body}) for body in _bodies(event)]
        if notices:
            self._outbox += notices
            self._wake.set()

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._outbox = self._outbox, []
            try:
                await self.store.read(functools.partial(_notify_all, notices=batch))
            except StoreError as error:
                log.warning("%d live events did not reach the other instances: %s", len(batch), error)

    async def _listen(self, listening: asyncio.Future[None]) -> None:
        info = conninfo(self.store.url, "mailtrap-lite events")
        while True:
            try:
                async with await connect(info, self.store.where, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}".encode())
                    if listening.done():  # rules may have changed while we were not listening
                        self.faults.mirror(await self.current())
                    else:
                        listening.set_result(None)
                    async for notice in connection.notifies():
                        await self._heard(notice.payload)
            except (psycopg.Error, StoreError) as error:
                if not listening.done():
                    listening.set_exception(StoreError(f"cannot listen for events: {error}"))
                    return
                log.warning("stopped hearing the other instances (%s); listening again", error)
                self.store.writer().suspect()
            await asyncio.sleep(RECONNECT_INTERVAL)

    async def _heard(self, payload: str) -> None:
        body = json.loads(payload)
        if body.get("i") == self.store.instance:
            return
        kind = body.get("t")
        try:
            if kind == "faults":
                self.faults.mirror(await self.current())
            elif kind == "message.new":
                stored = await self.store.get_stored(body["id"])
                if stored is not None:
                    self.hub.publish(Event("message.new", to_json(stored.summary), stored, remote=True))
            elif kind == "message.updated":
                summary = await self.store.get_summary(body["id"])
                if summary is not None:
                    self.hub.publish(Event("message.updated", to_json(summary), summary, remote=True))
            elif kind in ("message.deleted", "messages.cleared"):
                data = {key: body[key] for key in ("ids", "reason") if key in body}
                self.hub.publish(Event(kind, data, remote=True))
            elif kind == "session.ended":
                session = await self.store.get_session(body["id"])
                if session is not None:
                    data = session_json(session, transcript=False)
                    self.hub.publish(Event("session.ended", data, session, remote=True))
        except StoreError as error:
            log.warning("an event from another instance was lost: %s", error)

    # --- fault rules (the engine's FaultLedger) ----------------------------------------------------------

    async def added(self, rule: FaultRule) -> str:
        async def work(db: Connection) -> int | None:
            seq = await _insert_rule(db, rule, only_new=False)
            await self._rules_changed(db)
            return seq

        return f"f{await self.store.writer().run(work)}"

    async def removed(self, rule_id: str | None) -> int:
        params: tuple[object, ...] = ()
        if rule_id is None:
            sql = b"DELETE FROM fault_rules RETURNING seq"
        elif found := _RULE_ID.fullmatch(rule_id):
            sql, params = b"DELETE FROM fault_rules WHERE seq = %s RETURNING seq", (int(found[1]),)
        else:
            return 0

        async def work(db: Connection) -> int:
            removed = len(await (await db.execute(sql, params)).fetchall())
            await self._rules_changed(db)
            return removed

        removed: int = await self.store.writer().run(work)
        return removed

    async def claim(self, rule_id: str) -> tuple[bool, int | None]:
        found = _RULE_ID.fullmatch(rule_id)
        if found is None:
            return False, 0

        async def work(db: Connection) -> tuple[Any, ...] | None:
            sql = (
                b"UPDATE fault_rules SET remaining = remaining - 1, fired = fired + 1 "
                b"WHERE seq = %s AND (remaining IS NULL OR remaining > 0) RETURNING remaining"
            )
            return await (await db.execute(sql, (int(found[1]),))).fetchone()

        row = await self.store.writer().run(work)
        return (False, 0) if row is None else (True, row[0])

    async def _rules_changed(self, db: Connection) -> None:
        notice = json.dumps({"i": self.store.instance, "t": "faults"})
        await db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, notice))

    async def current(self) -> list[FaultState]:
        async def work(db: Connection) -> list[tuple[Any, ...]]:
            sql = b"SELECT seq, rule, remaining, fired FROM fault_rules ORDER BY seq"
            return await (await db.execute(sql)).fetchall()

        return [
            FaultState(dataclasses.replace(decode(FaultRule, rule), id=f"f{seq}"), remaining, fired)
            for seq, rule, remaining, fired in await self.store.read(work)
        ]


def _bodies(event: Event) -> list[dict[str, Any]]:
    """What to tell the other instances of an event published here."""
    if event.type == "message.updated" and isinstance(event.subject, MessageSummary):
        return [{"t": event.type, "id": event.subject.id}]
    if event.type == "session.ended" and isinstance(event.subject, Session):
        return [{"t": event.type, "id": event.subject.id}]
    if event.type in ("message.deleted", "messages.cleared"):
        ids: list[str] = event.data["ids"]
        extra = {"reason": event.data["reason"]} if "reason" in event.data else {}
        chunks = [ids[i : i + IDS_PER_NOTICE] for i in range(0, len(ids), IDS_PER_NOTICE)] or [[]]
        return [{"t": event.type, "ids": chunk, **extra} for chunk in chunks]
    return []  # message.new goes with its transaction; stats are each instance's own


async def _notify_all(db: Connection, notices: list[str]) -> None:
    await db.execute(_NOTIFY_ALL, (CHANNEL, notices))


async def _insert_rule(db: Connection, rule: FaultRule, *, only_new: bool) -> int | None:
    text = encode(dataclasses.replace(rule, id=""))
    if only_new:  # a start-up rule that another instance, started with the same flags, added already
        await db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        sql = (
            b"INSERT INTO fault_rules (rule, remaining) SELECT %s, %s "
            b"WHERE NOT EXISTS (SELECT 1 FROM fault_rules WHERE rule = %s) RETURNING seq"
        )
        params: tuple[object, ...] = (text, rule.times, text)
    else:
        sql, params = (
            b"INSERT INTO fault_rules (rule, remaining) VALUES (%s, %s) RETURNING seq",
            (text, rule.times),
        )
    row = await (await db.execute(sql, params)).fetchone()
    return None if row is None else int(row[0])
