"""The transcript-store benchmark at a tiny size, end to end, so it cannot rot.

Runs ``python -m bench.store`` as docs/performance.md does (the real server in its own process,
the light load driver, the null engine emitting finals, a real SQLite store, the control API's
export over HTTP), only with 10 calls for 3 s, a final per call every second and 2,000 exported
rows, unpinned; and checks that every figure of the report is there and sane. Not the numbers
themselves: the suite shares two cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from connector.testing.postgres import PostgresUnavailable, find_postgres_bin
from connector.testing.skips import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
SESSIONS = 10
ROWS = 2000


def _run(tmp_path: Path, *options: str) -> dict[str, Any]:
    out = tmp_path / "store.json"
    command = [sys.executable, "-m", "bench.store", "--no-pin", "--json", str(out), *options]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _check_export(backend: dict[str, Any], name: str) -> None:
    assert backend["backend"] == name
    assert backend["fill"]["rows"] == ROWS and backend["fill"]["rows_per_s"] > 0
    assert backend["server_exit"] == 0
    runs = {run["format"]: run for run in backend["exports"]}
    assert set(runs) == {"jsonl", "csv"}
    for run in runs.values():
        assert run["rows"] == ROWS  # every utterance of the day, once
        assert run["rows_per_s"] > 0 and run["mb_per_s"] > 0 and run["first_byte_ms"] is not None
        assert 0 < run["rss_before_mb"] <= run["peak_rss_mb"]
        assert run["bytes_per_row"] > 200  # twelve words with timings each
        assert "loop_lag_ms_p99" in run


def test_store_benchmark_smoke_run(tmp_path: Path) -> None:
    report = _run(
        tmp_path, "--sessions", str(SESSIONS), "--hold", "3", "--ramp-rate", "40", "--final-every", "1",
        "--export-rows", str(ROWS),
    )  # fmt: skip
    rows = {row["store"]: row for row in report["side_by_side"]}
    assert set(rows) == {"off", "sqlite"}
    for row in rows.values():
        assert "error" not in row, row
        assert row["completed"] == SESSIONS
        assert row["server_exit"] == 0
        assert row["finals_per_s"] > 0  # NULL_FINAL_EVERY reached the engine
        assert row["loop_lag_ms"]["p99"] is not None and row["server_cpu_percent"] > 0
        assert row["idle_rss_mb"] > 0 and row["rss_mb"] > 0
        assert row["store_dropped"] == 0 and row["store_failures"] == 0
    off, stored = rows["off"], rows["sqlite"]
    assert off["store_rows_per_s"] == 0 and off["store_write_ms"]["p99"] is None
    assert stored["store_rows_per_s"] > 0 and stored["store_batches_per_s"] > 0
    assert stored["store_write_ms"]["p50"] is not None
    assert 0 < stored["store_write_ms"]["p50"] <= stored["store_write_ms"]["p99"]
    assert stored["store_backlog_max"] >= 0 and stored["database_mb"] > 0
    assert len(stored["rss_mb_checkpoints"]) >= 2 and "gen0" in stored["gc_pauses"]
    [backend] = report["export"]
    _check_export(backend, "sqlite")
    assert report["machine"]["cores"] >= 1


def test_store_benchmark_export_on_postgres(tmp_path: Path) -> None:
    try:
        find_postgres_bin()
    except PostgresUnavailable as error:
        skip_or_fail(str(error))
    report = _run(tmp_path, "--parts", "export", "--postgres", "--export-rows", str(ROWS))
    assert report["side_by_side"] == []
    backends = {backend["backend"]: backend for backend in report["export"]}
    assert set(backends) == {"sqlite", "postgresql"}
    _check_export(backends["postgresql"], "postgresql")


def test_null_engine_emits_finals_only_when_asked() -> None:
    """Without ``NULL_FINAL_EVERY`` the null engine stays silent (every other benchmark relies on it)."""
    from bench.null_engine import create_engine

    assert create_engine({}).final_every is None
    assert create_engine({"NULL_FINAL_EVERY": "6"}).final_every == 6.0
