"""The webhook benchmark at a tiny size, end to end, so it cannot rot.

Runs ``python -m bench.webhooks`` as docs/performance.md does (the real server in its own process,
the light load driver, the null engine emitting finals, a real SQLite store, the receiver in the
benchmark process), only with 10 calls for 3 s and a final per call every second, unpinned; then
the phrase part with one espeak-ng call saying the phrase twice through the local engine. Checks
that every figure is there and sane (every final delivered, latencies positive), not the numbers
themselves: the suite shares two cores.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from connector.testing.skips import skip_or_fail
from connector.testing.speech import espeak_available

REPO = Path(__file__).resolve().parents[2]
SESSIONS = 10


def _run(tmp_path: Path, *options: str) -> dict[str, Any]:
    out = tmp_path / "webhooks.json"
    command = [sys.executable, "-m", "bench.webhooks", "--no-pin", "--json", str(out), *options]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_webhook_benchmark_side_by_side(tmp_path: Path) -> None:
    report = _run(tmp_path, "--sessions", str(SESSIONS), "--hold", "3", "--ramp-rate", "40", "--final-every", "1")
    rows = {row["run"]: row for row in report["side_by_side"]}
    assert list(rows) == ["off", "store", "webhooks"]
    for row in rows.values():
        assert "error" not in row, row
        assert row["completed"] == SESSIONS and row["server_exit"] == 0
        assert row["finals_per_s"] > 0  # NULL_FINAL_EVERY reached the engine
        assert row["loop_lag_ms"]["p99"] is not None and row["server_cpu_percent"] > 0
    assert "webhooks" not in rows["off"] and "webhooks" not in rows["store"]
    hooks = rows["webhooks"]["webhooks"]
    assert hooks["all_delivered"] and hooks["deliveries_received"] == hooks["finals_sent"] > 0
    assert hooks["duplicates"] == 0 and hooks["drain_s"] is not None
    latency = hooks["latency_ms"]
    assert latency["count"] > 0 and 0 < latency["p50"] <= latency["p99"] <= latency["max"] < 10_000
    assert hooks["latency_ms_window"]["count"] > 0 and hooks["deliveries_per_s"] > 0
    server = hooks["metrics_run"]
    assert server["delivered"] > 0 and server["delivery_ms"]["p50"] is not None
    assert server["attempts_per_delivery"] == 1.0  # the receiver answers 200 at once
    assert server["attempt_failures"] == 0 and server["dead_letters"] == 0
    assert report["machine"]["cores"] >= 1


def test_webhook_benchmark_phrase(tmp_path: Path) -> None:
    if not espeak_available():
        skip_or_fail("espeak-ng is not installed (apt-get install espeak-ng)")
    figures = _run(tmp_path, "--phrase", "--calls", "1", "--phrases", "2")["phrase"]
    assert figures["completed"] == 1 and figures["server_exit"] == 0
    assert figures["occurrences"] == 2
    assert figures["detected"] + len(figures["missed"]) == 2
    assert figures["detected"] >= 1, figures["missed"]  # espeak speech, the local engine: heard at least once
    assert figures["from_partial"] + figures["from_final"] == figures["detected"]
    assert figures["partials_received"] > 0  # CONNECTOR_SEND_PARTIALS=true reached the calls
    for detection in figures["detections"]:
        assert isinstance(detection["isFinal"], bool)
        assert "cancel my account" in detection["text"].lower()
        # a partial may name the phrase a little before its last sample is spoken (the model
        # completes the word), so not necessarily positive; but within seconds of it
        assert math.isfinite(detection["latency_ms"]) and abs(detection["latency_ms"]) < 5_000
    assert figures["latency_ms"]["count"] == figures["detected"]
    assert figures["unmatched_detections"] == 0
    assert figures["webhooks"]["delivered"] >= figures["detected"]
    assert set(figures["checks"]) == {"all_completed", "all_detected", "p50_under_1s"}
