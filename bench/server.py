"""The real server, as its own process, for benchmarks: ``python -m bench.server``.

Configured from ``CONNECTOR_*`` like ``audiohook-connector serve``, built the same way (the
same :func:`connector.wiring.build_extensions`), plus two things a benchmark needs: the
engine ``null`` (:mod:`bench.null_engine`) besides every real engine name, and ``BENCH_GC*``
switches for garbage-collector experiments (unset: the product's own tuning).

Once listening it prints one JSON line to stdout, ``{"port": ..., "pid": ...}``, so the
load generator learns the port without polling. SIGTERM drains like the product.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import trio

from bench.null_engine import create_engine as create_null_engine
from connector.asr import EngineFactory, EngineRegistry, load_engine
from connector.config import ConfigError, Settings, load_environment
from connector.gc_tuning import tune_gc
from connector.logs import configure_logging
from connector.server import ConnectorServer
from connector.server.http import Request
from connector.wiring import build_extensions

log = logging.getLogger("bench.server")


def _engine(name: str, env: Mapping[str, str]) -> EngineFactory:
    if name == "null":
        return create_null_engine(env)
    return load_engine(name, env)


async def _gc_route(request: Request) -> tuple[int, Any, str]:
    """``/debug/gc`` (only with ``BENCH_GC_STATS=1``): what the collector has to traverse."""
    if request.target.endswith("?collect=full"):  # how much cyclic garbage piled up since the last one
        started = time.perf_counter()
        found = gc.collect()
        return 200, {"collected": found, "ms": round((time.perf_counter() - started) * 1000, 1)}, "application/json"
    objects = gc.get_objects()
    kinds = Counter(type(o).__qualname__ for o in objects)
    young = [gc.get_objects(generation) for generation in (0, 1)]
    started = time.perf_counter()
    gc.collect(0)
    gen0_ms = (time.perf_counter() - started) * 1000
    body = {
        "tracked": len(objects),
        "counts": gc.get_count(),
        "generation_sizes": [len(young[0]), len(young[1]), len(gc.get_objects(2))],
        "gen0_collection_ms": round(gen0_ms, 2),
        "young_top": Counter(type(o).__qualname__ for o in young[0] + young[1]).most_common(10),
        "top": kinds.most_common(25),
    }
    del objects, young
    return 200, body, "application/json"


def build(settings: Settings, env: Mapping[str, str]) -> ConnectorServer:
    engines = EngineRegistry([_engine(name, env) for name in settings.engines], settings.default_engine)
    extensions = build_extensions(settings, env)
    if env.get("BENCH_GC_FULL_EVERY"):
        every = float(env["BENCH_GC_FULL_EVERY"])

        async def full_collections() -> None:
            """Full collections on a schedule instead of the collector's own (automatic gen2 off)."""
            while True:
                await trio.sleep(every)
                gc.collect()

        extensions = replace(extensions, background=(*extensions.background, full_collections))
    if env.get("BENCH_GC_STATS"):
        extensions = replace(extensions, routes={**extensions.routes, "/debug/gc": _gc_route})
    return extensions.server(settings, engines)


async def _serve(settings: Settings, env: Mapping[str, str]) -> None:
    server = build(settings, env)
    # The signal receiver must outlive the nursery: leaving it restores the default handler.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for _ in signals:
                    server.request_stop()

            async def run_server(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
                await server.serve(task_status=task_status)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            port = await nursery.start(run_server)
            if not env.get("BENCH_GC"):
                tune_gc()  # as the product does once serving (audiohook-connector serve)
            print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)


class GcTimer:
    """Times the cyclic garbage collector (``BENCH_GC_STATS=1``): its pauses stop the event loop."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self.started)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for generation, pauses in self.pauses.items():
            ordered = sorted(pauses) or [0.0]
            out[f"gen{generation}"] = {
                "count": len(pauses),
                "total_s": round(sum(pauses), 3),
                "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
                "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
                "max_ms": round(ordered[-1] * 1000, 2),
            }
        return out


def apply_gc_spec(spec: str) -> None:
    """``BENCH_GC``: ``off`` (no cyclic collector), ``freeze`` (exclude start-up objects from
    every collection), or thresholds ``g0,g1,g2``; combine with ``+`` (``freeze+50000,20,100``)."""
    for part in filter(None, spec.split("+")):
        if part == "off":
            gc.disable()
        elif part == "freeze":
            gc.freeze()
        else:
            g0, g1, g2 = (int(x) for x in part.split(","))
            gc.set_threshold(g0, g1, g2)


def main() -> int:
    env = load_environment(None)
    timer = GcTimer() if env.get("BENCH_GC_STATS") else None
    if timer is not None:
        gc.callbacks.append(timer)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    apply_gc_spec(env.get("BENCH_GC", ""))
    trio.run(_serve, settings, env)
    if timer is not None:
        print(json.dumps({"gc": timer.summary()}), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
