"""A few seconds of the soak benchmark, end to end, so it cannot rot.

Runs ``python -m bench.soak`` as bench/README.md does (the real server in its own process, the
light client, the null engine), only tiny and unpinned, and checks that the report has what the
figures are made of: samples in every phase, the RSS slope, the before/after deltas, and a
server that served both calls and came back to idle. The figures themselves are not judged here
(a few seconds on a busy machine say nothing about a slope).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_soak_benchmark_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [
        sys.executable, "-m", "bench.soak", "--engine", "null", "--calls", "2", "--minutes", "0.1",
        "--ramp", "0.5", "--interval", "0.5", "--baseline", "1.5", "--after", "1.5", "--warmup", "0.5",
        "--no-pin", "--max-slope", "1000", "--json", str(out),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(out.read_text())
    figures = report["figures"]
    assert figures["calls"]["completed"] == 2, (figures["calls"]["failures"], done.stderr[-2000:])
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "RSS slope" in done.stdout

    phases = [s["phase"] for s in report["samples"]]
    assert {"before", "during", "after"} <= set(phases)
    assert phases.index("before") < phases.index("during") < phases.index("after")
    during = [s for s in report["samples"] if s["phase"] == "during"]
    assert max(s["sessions"] for s in during) >= 1
    assert all(s["rss_mb"] > 0 and s["fds"] > 0 and s["threads"] >= 1 for s in report["samples"])
    assert report["samples"][-1]["sessions"] == 0  # idle again at the end

    assert figures["steady_samples"] >= 3
    assert isinstance(figures["rss_slope_mb_per_min"], float)
    assert set(figures["after_minus_before"]) >= {"rss_mb", "fds", "threads"}
    assert figures["checks"]["fds_back"] and figures["checks"]["threads_back"]
    assert figures["audio_dropped_s"] == 0
    assert report["server_exit"] == 0  # SIGTERM drained cleanly
