"""What the soak benchmark reads from the server process, and the figures it makes of them.

Every few seconds one :class:`Sample`: resident memory, threads and CPU from ``/proc/<pid>``
(:func:`bench.probe.sample_process`), open file descriptors (``/proc/<pid>/fd``), the sessions
the server says it serves (``/metrics``), and, with the benchmark's ``/debug/gc`` route, the
objects Python's collector tracks (a proxy for per-session structures: a list that grows per
frame or per final grows this count). :func:`figures` turns the samples of one run into the
figures docs/measuring.md defines: the RSS slope over the steady part and before/after deltas.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import trio

from bench.load_server import ServerProcess

__all__ = [
    "PHASES",
    "Sample",
    "figures",
    "full_collection",
    "open_fds",
    "samples_json",
    "slope_per_minute",
    "take_sample",
    "tracked_objects",
]

PHASES = ("before", "during", "drain", "after")
"""before: idle after warm-up; during: calls streaming; drain: calls ended, sessions still open;
after: the server idle again (no session)."""

MB = 2**20


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the first sample
    phase: str
    rss_mb: float
    fds: int
    threads: int
    cpu_s: float
    sessions: int  # connector_sessions_active
    audio_dropped_s: float  # connector_audio_dropped_seconds_total
    tracked_objects: int | None = None  # gc-tracked objects (only with /debug/gc)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _get_json(port: int, target: str) -> dict[str, Any]:
    """GET a JSON route of the server (in a worker thread: the benchmark's loop keeps its pace)."""

    def get() -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}", timeout=60) as answer:
            data: dict[str, Any] = json.loads(answer.read())
            return data

    return await trio.to_thread.run_sync(get)


async def tracked_objects(port: int) -> int:
    """Objects the server's cyclic collector tracks (``/debug/gc``, served with ``BENCH_GC_STATS=1``)."""
    return int((await _get_json(port, "/debug/gc"))["tracked"])


async def full_collection(port: int) -> dict[str, Any]:
    """Ask the server for one full collection now: ``{"collected": objects, "ms": pause}``."""
    return await _get_json(port, "/debug/gc?collect=full")


async def take_sample(server: ServerProcess, phase: str, origin: float, gc_route: bool) -> Sample:
    metrics = await server.scrape(None)
    tracked = await tracked_objects(server.port) if gc_route else None
    proc = server.sample()
    return Sample(
        t=round(proc.at - origin, 2),
        phase=phase,
        rss_mb=round(proc.rss_bytes / MB, 2),
        fds=open_fds(server.pid),
        threads=proc.threads,
        cpu_s=round(proc.cpu_seconds, 2),
        sessions=round(metrics.value("connector_sessions_active")),
        audio_dropped_s=round(metrics.value("connector_audio_dropped_seconds_total"), 3),
        tracked_objects=tracked,
    )


def slope_per_minute(times: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of ``values`` against ``times`` (seconds), per minute."""
    if len(times) < 3 or max(times) - min(times) <= 0:
        return None
    slope, _ = np.polyfit(np.asarray(times, dtype=float), np.asarray(values, dtype=float), 1)
    return float(slope) * 60


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {"min": min(values), "median": float(np.median(values)), "max": max(values)}


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def figures(samples: Sequence[Sample], steady: tuple[float, float]) -> dict[str, Any]:
    """The run's figures: per phase the spread of each reading, the slopes over ``steady``
    (``(from, to)`` in sample time: calls streaming, warm-up over), and after − before."""
    phase = {name: [s for s in samples if s.phase == name] for name in PHASES}
    window = [s for s in phase["during"] if steady[0] <= s.t <= steady[1]]
    out: dict[str, Any] = {
        "steady_window_s": [round(steady[0], 1), round(steady[1], 1)],
        "steady_samples": len(window),
    }
    times = [s.t for s in window]
    rss_slope = slope_per_minute(times, [s.rss_mb for s in window])
    out["rss_slope_mb_per_min"] = _r(rss_slope, 4)
    out["rss_growth_over_steady_mb"] = _r(None if rss_slope is None else rss_slope * (steady[1] - steady[0]) / 60, 2)
    out["fds_slope_per_min"] = _r(slope_per_minute(times, [s.fds for s in window]), 4)
    out["threads_slope_per_min"] = _r(slope_per_minute(times, [s.threads for s in window]), 4)
    if all(s.tracked_objects is not None for s in window):
        tracked = [float(s.tracked_objects or 0) for s in window]
        out["tracked_objects_slope_per_min"] = _r(slope_per_minute(times, tracked), 1)
    readings = ("rss_mb", "fds", "threads", "tracked_objects")
    for name in readings:
        out[name] = {
            p: _spread([v for s in phase[p] if (v := getattr(s, name)) is not None]) for p in PHASES
        }
    if phase["before"] and phase["after"]:
        # before: the median of the idle samples; after: the last sample (the server idle again)
        last = phase["after"][-1]
        out["after_minus_before"] = {
            name: _r(getattr(last, name) - out[name]["before"]["median"], 2)
            for name in readings
            if getattr(last, name) is not None and out[name]["before"]["median"] is not None
        }
    out["audio_dropped_s"] = samples[-1].audio_dropped_s - samples[0].audio_dropped_s if samples else 0.0
    return out


def samples_json(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    return [asdict(s) for s in samples]
