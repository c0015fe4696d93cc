"""What one step of the load benchmark measured, and how it is reported.

:func:`summarise` turns a :class:`StepReport` (the calls' results, the server's ``/proc`` and
``/metrics`` snapshots over the steady window) into the step's row of numbers and its pass/fail
checks; :func:`format_row` prints it under the :data:`COLUMNS` header, a row per server when
``--compare-cmd`` runs another one side by side. See ``bench/load.py`` for how a step runs.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.probe import Metrics, ProcSample, histogram_quantile
from connector.simulator import CallConfig, CallResult, DiscardAt
from connector.vocabulary import SAMPLE_RATE

if TYPE_CHECKING:
    from bench.load import StepPlan

__all__ = ["COLUMNS", "OURS", "Snapshot", "StepReport", "format_row", "frame_lateness", "machine_info", "summarise"]

REPO = Path(__file__).resolve().parent.parent

OURS = "connector"
PONG_P99_LIMIT = 0.100
BACKLOG_LIMIT = 0.25
"""Seconds of audio per call the server may be behind the clients and still count as real time."""
LATENESS_LIMIT = 0.25
"""Client frames later than this (p99) mean the load generator itself could not keep up."""

@dataclass
class Snapshot:
    proc: ProcSample
    metrics: Metrics
    client_cpu: float
    cpu_busy: dict[int, float]
    client_sent: float | None = None
    """Audio seconds the clients had sent when the scrape was taken (live-counting drivers only)."""


@dataclass
class StepReport:
    plan: StepPlan
    results: list[CallResult]
    idle: ProcSample
    window: list[Snapshot]
    before: Metrics
    after: Metrics
    server_exit: int | None = None
    server_cpu_index: int | None = None
    client_cpu_index: int | None = None
    client_lags: list[float] = field(default_factory=list)
    lateness: list[float] | None = None
    """Per-frame send lateness from a live-counting driver (else computed from the simulator's frame log)."""
    data: dict[str, Any] = field(default_factory=dict)
    server_name: str = "connector"

    @property
    def ours(self) -> bool:
        """Measured with our /metrics too (another server is measured from outside only)."""
        return self.server_name == OURS


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values), q)) if len(values) else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def frame_lateness(result: CallResult, discards: Sequence[DiscardAt]) -> list[float]:
    """How late each frame left against the call's own real-time schedule (seconds, >= 0).

    A frame ending at stream sample p is due at ``t0 + p / SAMPLE_RATE`` (a pause advances the
    stream with the clock, so it keeps that schedule); a discard skips stream time without
    wall time, so its length comes off. ``t0`` is taken from the most punctual frame.
    """
    if not result.frame_times:
        return []
    ends = np.asarray(result.frame_ends, dtype=np.float64) / SAMPLE_RATE
    for discard in discards:
        ends -= np.where(ends > discard.at, discard.duration, 0.0)
    offsets = np.asarray(result.frame_times) - ends
    return list(offsets - offsets.min())


def _client_backlog(report: StepReport) -> list[float]:
    """Per checkpoint: seconds of audio per call sent by the clients but not yet taken in by the server."""
    base = report.before.value("connector_audio_received_seconds_total")
    if all(snap.client_sent is not None for snap in report.window):
        return [
            ((snap.client_sent or 0.0) - (snap.metrics.value("connector_audio_received_seconds_total") - base))
            / max(1, report.plan.sessions)
            for snap in report.window
        ]
    times = np.concatenate([np.asarray(r.frame_times) for r in report.results]) if report.results else np.zeros(0)
    sizes = np.concatenate(
        [(np.asarray(r.frame_ends) - np.asarray(r.frame_starts)) / SAMPLE_RATE for r in report.results]
    ) if report.results else np.zeros(0)
    order = np.argsort(times)
    times, cumulative = times[order], np.cumsum(sizes[order])
    out = []
    for snap in report.window:
        i = int(np.searchsorted(times, snap.metrics.at, side="right"))
        sent = float(cumulative[i - 1]) if i else 0.0
        received = snap.metrics.value("connector_audio_received_seconds_total") - base
        out.append((sent - received) / max(1, report.plan.sessions))
    return out


def _other_load(report: StepReport, server: float, client: float, seconds: float) -> dict[str, float] | None:
    """CPU used on the server's and the client's core by *other* processes during the window."""
    if report.server_cpu_index is None or report.client_cpu_index is None:
        return None
    first, last = report.window[0].cpu_busy, report.window[-1].cpu_busy

    def busy(cpu: int) -> float:
        return (last.get(cpu, 0.0) - first.get(cpu, 0.0)) / seconds

    return {
        "server_core": round(max(0.0, busy(report.server_cpu_index) - server) * 100, 1),
        "client_core": round(max(0.0, busy(report.client_cpu_index) - client) * 100, 1),
    }


def summarise(report: StepReport, calls: Sequence[tuple[float, CallConfig]]) -> dict[str, Any]:
    plan, results = report.plan, report.results
    n = plan.sessions
    first, last = report.window[0], report.window[-1]
    seconds = max(1e-9, last.proc.at - first.proc.at)
    server_cpu = (last.proc.cpu_seconds - first.proc.cpu_seconds) / seconds
    client_cpu = (last.client_cpu - first.client_cpu) / seconds
    lag = "connector_event_loop_lag_seconds"
    opened = [r.opened_latency for r in results if r.opened_latency is not None]
    pongs = [x for r in results for x in r.pong_latencies]
    lateness: list[float] = report.lateness if report.lateness is not None else []
    if report.lateness is None:
        for result, (_, config) in zip(results, calls, strict=False):
            lateness += frame_lateness(result, [i for i in config.injections if isinstance(i, DiscardAt)])
    ours = report.ours
    backlog = _client_backlog(report) if ours else []
    failures: dict[str, int] = {}
    for r in results:
        if not r.ok:
            why = r.error or "; ".join([e.message for e in r.protocol_errors] + r.timeouts) or (
                f"disconnect {r.disconnect_reason}" if r.disconnect_reason else "not closed")
            failures[why] = failures.get(why, 0) + 1
    outcome = {
        o: report.after.value("connector_sessions_total", outcome=o) - report.before.value(
            "connector_sessions_total", outcome=o)
        for o in ("completed", "disconnected", "error", "unauthorized", "probe", "vanished")
    } if ours else None
    data: dict[str, Any] = {
        "server": report.server_name,
        "sessions": n,
        "completed": sum(r.ok for r in results),
        "server_outcomes": outcome,
        "failures": dict(sorted(failures.items(), key=lambda kv: -kv[1])[:5]),
        "opened_ms": {"p50": _ms(_percentile(opened, 50)), "p99": _ms(_percentile(opened, 99))},
        "opened_server_ms_p99": _ms(histogram_quantile(
            0.99, report.after.buckets("connector_opened_latency_seconds"),
            report.before.buckets("connector_opened_latency_seconds"))),
        "pong_ms": {"p50": _ms(_percentile(pongs, 50)), "p99": _ms(_percentile(pongs, 99)), "count": len(pongs)},
        "loop_lag_ms": {
            q: _ms(histogram_quantile(float(q[1:]) / 100, last.metrics.buckets(lag), first.metrics.buckets(lag)))
            for q in ("p50", "p99")
        },  # None for another server: measured inside ours only
        "gc_pauses": None if not ours else {
            f"gen{g}": {
                "count": int(report.after.value("connector_gc_pause_seconds_count", generation=str(g))
                             - report.before.value("connector_gc_pause_seconds_count", generation=str(g))),
                "p99_ms": _ms(histogram_quantile(
                    0.99, report.after.buckets("connector_gc_pause_seconds", generation=str(g)),
                    report.before.buckets("connector_gc_pause_seconds", generation=str(g)))),
            }
            for g in (0, 1, 2)
        },
        "window_seconds": round(seconds, 1),
        "server_cpu_percent": round(server_cpu * 100, 1),
        "cpu_ms_per_session_second": round(server_cpu / n * 1000, 3),
        "idle_rss_mb": round(report.idle.rss_bytes / 2**20, 1),
        "rss_mb": round(last.proc.rss_bytes / 2**20, 1),
        "rss_kb_per_session": round((last.proc.rss_bytes - report.idle.rss_bytes) / n / 1024, 1),
        "threads_idle": report.idle.threads,
        "threads": max(s.proc.threads for s in report.window),
        "backlog_s_per_session": {"max": round(max(backlog), 3), "last": round(backlog[-1], 3)} if backlog else None,
        "client_lateness_ms_p99": _ms(_percentile(lateness, 99)),
        "client_cpu_percent": round(client_cpu * 100, 1),
        "client_loop_lag_ms_p99": _ms(_percentile(report.client_lags, 99)),
        "other_load_percent": _other_load(report, server_cpu, client_cpu, seconds),
        "audio_dropped_s": report.after.value("connector_audio_dropped_seconds_total")
        - report.before.value("connector_audio_dropped_seconds_total") if ours else None,
        "partials_dropped": report.after.value("connector_backpressure_events_total", what="partial_dropped")
        - report.before.value("connector_backpressure_events_total", what="partial_dropped") if ours else None,
        "server_exit": report.server_exit,
    }
    pong_p99 = _percentile(pongs, 99)
    pong_ok = pong_p99 is not None and pong_p99 < PONG_P99_LIMIT
    checks = {
        "all_completed": data["completed"] == n and (outcome is None or outcome["completed"] == n),
        "pong_p99_ok": pong_ok,
        # Another server's intake is not visible from outside; pings queue behind its audio,
        # so a growing backlog shows up as pong latency, which the check above bounds.
        "real_time": max(backlog) < BACKLOG_LIMIT if backlog else pong_ok,
    }
    data["checks"] = checks
    data["client_limited"] = (_percentile(lateness, 99) or 0.0) > LATENESS_LIMIT or client_cpu > 0.9
    data["pass"] = all(checks.values())
    return data


def machine_info() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


COLUMNS: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("server", lambda d: d.get("server", OURS)),
    ("N", lambda d: d["sessions"]),
    ("ok", lambda d: d["completed"]),
    ("opened p50/p99 ms", lambda d: f"{d['opened_ms']['p50']}/{d['opened_ms']['p99']}"),
    ("pong p99 ms", lambda d: d["pong_ms"]["p99"]),
    ("lag p99 ms", lambda d: "n/a" if d["loop_lag_ms"]["p99"] is None else d["loop_lag_ms"]["p99"]),
    ("cpu %", lambda d: d["server_cpu_percent"]),
    ("cpu ms/s/call", lambda d: d["cpu_ms_per_session_second"]),
    ("KB/call", lambda d: d["rss_kb_per_session"]),
    ("threads", lambda d: d["threads"]),
    ("backlog s", lambda d: (d["backlog_s_per_session"] or {}).get("max", "n/a")),
    ("client cpu %", lambda d: d["client_cpu_percent"]),
    ("pass", lambda d: ("yes" if d["pass"] else "NO") + (" (client-limited)" if d["client_limited"] else "")),
)


def format_row(data: Mapping[str, Any]) -> str:
    return " | ".join(str(get(data)) for _, get in COLUMNS)
