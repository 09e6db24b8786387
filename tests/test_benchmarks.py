"""The benchmark harness runs end to end (with tiny counts; its numbers are not checked, only its shape)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts every server the harness compares

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_harness_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--tiny", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    cells = {(r["size"], r["conns"], r["reuse"]) for r in results["throughput"]}
    assert cells == {(size, 2, reuse) for size in ("1KB", "50KB", "1MB", "10MB") for reuse in (True, False)}
    for row in results["throughput"]:
        assert row["sink"]["msg_s"] > 0 and row["catcher"]["msg_s"] > 0
    assert results["visibility"]["channel"] in ("websocket", "long-poll")
    assert results["memory"]["rss"]["mailtrap-lite/rss_small"] > 0
    assert results["memory"]["lag"]["loop_max"] >= 0
    assert [r["stored"] for r in results["api"]] == [20]
    assert "| 1KB text | 2 | yes |" in done.stdout
    assert "Load generator ceiling" in done.stdout


def test_soak_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "soak.py"),
            *("--minutes", "0.05", "--sample-seconds", "1", "--max-messages", "30", "--db"),
            *("--json", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["store"] == "sqlite"
    samples = results["samples"]
    assert len(samples) == 3
    for sample in samples:
        assert sample["rss_mb"] > 0 and sample["fds"] > 0 and sample["threads"] > 0
        assert sample["db_mb"] > 0 and sample["lag_p99_ms"] >= 0 and sample["stored"] >= 0
        # The loop process and the SQLite writer process, each measured.
        assert len(sample["processes"]) == 2
        assert set(sample["interval"]) >= {"sent", "acked", "failed", "vanished", "api_calls", "deleted"}
    assert results["totals"]["acked"] > 0 and results["totals"]["api_calls"] > 0
    assert set(results["verdicts"]) == {"rss_mb", "fds", "threads", "db_mb", "lag_p99_ms"}
    assert {v["verdict"] for v in results["verdicts"].values()} <= {"levels off", "still growing"}
    table = [line for line in done.stdout.splitlines() if line.startswith("| 0:0")]
    assert len(table) == 3
    assert "**Verdicts.** Rule:" in done.stdout
