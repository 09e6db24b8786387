"""The PostgreSQL benchmarks run end to end (tiny counts; their numbers are not checked, only their shape)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg.cluster import Cluster

pytestmark = pytest.mark.slow  # starts three servers and builds 10 MB messages

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_pg_bench_runs_end_to_end(pg_cluster: Cluster) -> None:
    dsn = pg_cluster.create_database("pg_bench")
    out = _run(
        "benchmarks/pg_bench.py", "--pg", dsn, "--small", "8", "--large", "1", "--latency", "3", "--runs", "1"
    )
    assert "| measure | sqlite | postgresql |" in out
    assert "| 250 -> websocket, other instance (p50 / p99 ms) | n/a | " in out


def test_store_bench_has_a_postgresql_column(pg_cluster: Cluster) -> None:
    dsn = pg_cluster.create_database("store_bench")
    out = _run(
        "benchmarks/store_bench.py",
        "--messages",
        "60",
        "--repeat",
        "1",
        "--stores",
        "postgresql",
        "--pg",
        dsn,
    )
    assert "postgresql median" in out
    assert "free text, one message's code" in out
