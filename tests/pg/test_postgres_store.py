"""What the PostgreSQL store adds to the conformance suite (tests/store/test_store.py runs it too): the
trigram index and its absence, group commit, migrations and retention run once among instances, and a
database that is not ours."""

from __future__ import annotations

import asyncio
import dataclasses

import psycopg
import pytest

from mailtrap_lite.errors import StoreError
from mailtrap_lite.model import Arrival, Envelope, Recipient
from mailtrap_lite.search import MAX_QUERY_TERMS, parse_query
from mailtrap_lite.store.base import Retention, Store
from mailtrap_lite.store.postgres import PostgresStore
from mailtrap_lite.store.postgres_db import where_clause
from mailtrap_lite.store.postgres_schema import RETENTION_LOCK, SCHEMA_VERSION
from tests.pg.cluster import ADMIN, Cluster, fresh_pg
from tests.store.helpers import new_message, new_session, run


@pytest.mark.parametrize("trigrams", [True, False])
def test_searches_use_the_trigram_index_only_where_pg_trgm_could_be_created(
    request: pytest.FixtureRequest, pg_cluster: Cluster, trigrams: bool
) -> None:
    dsn = fresh_pg(request, trigrams=trigrams)
    session = new_session()
    query = parse_query("subject:invoice")

    async def scenario(store: Store) -> str:
        assert isinstance(store, PostgresStore)
        assert store.trigrams is trigrams
        for n in range(20):
            await store.add(new_message(session, n, subject="invoice 7" if n == 3 else None), session)
        found = await store.list_messages(query)
        assert [m.id for m in found.messages] == ["m0003"]
        where, params = where_clause(query, trigrams=store.trigrams)

        async def plan(db: object) -> str:
            await db.execute("SET enable_seqscan = off")  # type: ignore[attr-defined]
            cursor = await db.execute(f"EXPLAIN SELECT id FROM messages WHERE {where}".encode(), params)  # type: ignore[attr-defined]
            rows = await cursor.fetchall()
            await db.execute("RESET enable_seqscan")  # type: ignore[attr-defined]
            return "\n".join(row[0] for row in rows)

        return await store.read(plan)

    plan = run(PostgresStore(dsn), scenario)
    installed = pg_cluster.admin(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'", f"store_{trigrams}"
    )
    assert installed == [(int(trigrams),)]
    assert ("messages_trigrams" in plan) is trigrams, plan


def test_concurrent_messages_share_commits_and_all_arrive(request: pytest.FixtureRequest) -> None:
    dsn = fresh_pg(request, trigrams=True)
    sessions = [new_session(f"s{n}") for n in range(40)]

    async def scenario(store: Store) -> int:
        assert isinstance(store, PostgresStore)
        arrivals = [
            Arrival(
                f"m{n:04d}",
                f"Subject: burst {n}\r\n\r\nbody\r\n".encode(),
                Envelope("a@example.com", recipients=(Recipient("b@example.com", 250, "ok"),)),
                session,
            )
            for n, session in enumerate(sessions)
        ]
        await asyncio.gather(*(store.ingest(arrival) for arrival in arrivals))
        page = await store.list_messages(limit=100)
        assert sorted(m.subject for m in page.messages) == sorted(f"burst {n}" for n in range(40))
        assert (await store.stats()).sessions == 40

        async def transactions(db: object) -> int:
            # Rows written by one transaction share its id (xmin).
            cursor = await db.execute("SELECT count(DISTINCT xmin::text) FROM messages")  # type: ignore[attr-defined]
            return int((await cursor.fetchone())[0])

        return await store.read(transactions)

    # Forty messages arriving together take fewer transactions than forty (group commit).
    transactions = run(PostgresStore(dsn), scenario)
    assert transactions < 40


def test_instances_starting_together_migrate_once(request: pytest.FixtureRequest) -> None:
    dsn = fresh_pg(request, trigrams=True)

    async def main() -> list[int]:
        stores = [PostgresStore(dsn) for _ in range(4)]
        await asyncio.gather(*(store.open() for store in stores))
        try:

            async def versions(db: object) -> list[int]:
                cursor = await db.execute("SELECT version FROM mailtrap_lite_schema")  # type: ignore[attr-defined]
                return [row[0] for row in await cursor.fetchall()]

            return await stores[0].read(versions)
        finally:
            await asyncio.gather(*(store.close() for store in stores))

    assert asyncio.run(main()) == list(range(1, SCHEMA_VERSION + 1))  # each migration once


def test_retention_waits_for_the_instance_already_pruning(
    request: pytest.FixtureRequest, pg_cluster: Cluster
) -> None:
    dsn = fresh_pg(request, trigrams=True)
    session = new_session()

    async def scenario(store: Store) -> None:
        for n in range(5):
            await store.add(new_message(session, n), session)
        with psycopg.connect(
            pg_cluster.dsn("store_True", user=ADMIN, password=None), autocommit=True
        ) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK,))  # another instance prunes
            assert await store.prune(Retention(max_messages=2, max_age_seconds=None)) == []
            assert (await store.stats()).messages == 5
            # Released here, not by closing: a closed connection's backend lets go of its locks a moment
            # after the client has moved on.
            other.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))
        assert await store.prune(Retention(max_messages=2, max_age_seconds=None)) == [
            "m0000",
            "m0001",
            "m0002",
        ]

    run(PostgresStore(dsn), scenario)


def test_a_database_with_someone_elses_messages_table_is_refused(
    request: pytest.FixtureRequest, pg_cluster: Cluster
) -> None:
    dsn = fresh_pg(request, trigrams=False)
    pg_cluster.admin("CREATE TABLE public.messages (id int)", "store_False")

    with pytest.raises(StoreError, match="did not write"):
        asyncio.run(PostgresStore(dsn).open())


def test_nul_characters_are_stored_and_found(request: pytest.FixtureRequest) -> None:
    dsn = fresh_pg(request, trigrams=True)
    session = new_session()
    stored = new_message(session, 1)
    summary = dataclasses.replace(stored.summary, subject="nul \x00 here")
    stored = dataclasses.replace(stored, summary=summary, body_text="a\x00b tail")

    async def scenario(store: Store) -> None:
        await store.add(stored, session)
        assert [m.id for m in (await store.list_messages(parse_query("a\x00b"))).messages] == ["m0001"]
        assert await store.mark_matching(parse_query("subject:nul"), read=True) == ["m0001"]
        assert await store.get_summary("m0001") == dataclasses.replace(summary, read=True, uid=1)
        assert await store.get_raw("m0001") == stored.raw

    run(PostgresStore(dsn), scenario)


@pytest.mark.parametrize("trigrams", [True, False])
def test_the_largest_query_allowed_runs(request: pytest.FixtureRequest, trigrams: bool) -> None:
    dsn = fresh_pg(request, trigrams=trigrams)
    session = new_session()
    longest = parse_query(" ".join([f"word{n % 10}" for n in range(MAX_QUERY_TERMS)]))

    async def scenario(store: Store) -> None:
        await store.add(new_message(session, 1, body=" ".join(f"word{n}" for n in range(10))), session)
        await store.add(new_message(session, 2), session)
        assert [m.id for m in (await store.list_messages(longest)).messages] == ["m0001"]

    run(PostgresStore(dsn), scenario)
