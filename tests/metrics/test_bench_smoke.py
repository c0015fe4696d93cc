"""A few seconds of the load benchmark, end to end, so it cannot rot.

Runs ``python -m bench.load`` exactly as docs/performance.md does (server in its own process,
the simulator as the load), only smaller and unpinned, and checks what the report is for:
every call completed with ``closed`` and no protocol error, and the measurements exist.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("driver", ["simulator", "light"])
def test_load_benchmark_smoke_run(tmp_path: Path, driver: str) -> None:
    out = tmp_path / "bench.json"
    sessions = 20
    command = [
        sys.executable, "-m", "bench.load", "--sessions", str(sessions), "--hold", "3", "--ramp-rate", "40",
        "--no-pin", "--driver", driver, "--control-share", "0.5", "--json", str(out),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    step = report["steps"][0]
    assert step["sessions"] == sessions
    assert step["completed"] == sessions, step["failures"]
    assert step["server_outcomes"]["completed"] == sessions
    assert step["checks"]["all_completed"]
    assert step["opened_ms"]["p99"] is not None
    assert step["pong_ms"]["count"] >= sessions  # every call pinged at least once
    assert step["loop_lag_ms"]["p99"] is not None
    assert step["threads"] < sessions  # no thread per session
    assert step["server_exit"] == 0  # SIGTERM drained cleanly
    assert step["backlog_s_per_session"]["max"] < 0.25  # 20 calls are far below the knee: real time holds
    assert report["machine"]["cores"] >= 1
