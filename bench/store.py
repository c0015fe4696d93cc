"""Transcript-store benchmark: what the store costs the audio path, and how fast an export streams.

    python -m bench.store --sessions 1000 --hold 60 --export-rows 1000000 --json store.json

**Side by side.** The same load step as ``bench.load`` (N real-time stereo calls, light driver,
server pinned to ``--server-cpu``, this process to ``--client-cpu``), with the ``null`` engine
emitting one final per call every ``--final-every`` seconds (``NULL_FINAL_EVERY``), run once with
the store off and once per ``--backends`` store: SQLite (a fresh file) and, with ``--postgres``, a
fresh database on a throw-away PostgreSQL cluster that this process starts (so it runs on the
client's core, and without fsync: see ``connector/testing/postgres.py``). The store's writes run
in worker threads; the question is whether they cost the event loop anything, so each row shows
the loop lag, CPU and RSS beside the store's own figures from ``/metrics`` over the steady window:
batch write time p50/p99 (``connector_store_write_seconds``), rows written per second, drops,
failures and the spool. Near the core's limit the store's CPU alone decides the tail; fewer calls
with a shorter ``--final-every`` keep the same write rate with headroom.

**Export.** A store filled with ``--export-rows`` utterances over one day (fill time reported
apart), served by the real server with the control API on, streamed with
``GET /v1/export?format=jsonl`` and ``csv`` to this process, which counts rows without keeping
the body; rows/s, MB/s and the server's peak RSS (``VmHWM``) against its RSS before.

Definitions: docs/measuring.md ("Transcript store"); results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

if not __package__:  # run as ``python bench/store.py``: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

from bench.load import StepFailed, StepPlan, run_step
from bench.load_report import StepReport, machine_info
from bench.load_server import ServerProcess, add_server_options, bench_server_env
from bench.probe import Metrics, histogram_quantile
from bench.runner import run_benchmark
from bench.store_export import DAY, FillPlan, export_once, fill, free_port, sqlite_size_mb, wait_healthy
from connector.testing.postgres import PostgresCluster

__all__ = ["main", "store_figures"]

WRITE = "connector_store_write_seconds"
LAG = "connector_event_loop_lag_seconds"


def _finals(metrics: Metrics) -> float:
    return sum(v for (name, labels), v in metrics.samples.items()
               if name == "connector_transcripts_sent_total" and ("kind", "final") in labels)  # fmt: skip


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def store_figures(report: StepReport) -> dict[str, Any]:
    """The store's figures over the steady window (``/metrics`` deltas), beside what ``bench.load`` reports."""
    first, last = report.window[0].metrics, report.window[-1].metrics
    first_proc, last_proc = report.window[0].proc, report.window[-1].proc
    seconds = max(1e-9, last.at - first.at)
    batches = last.value(f"{WRITE}_count") - first.value(f"{WRITE}_count")
    rows = last.value("connector_store_rows_written_total") - first.value("connector_store_rows_written_total")
    data = report.data
    return {
        "sessions": data["sessions"],
        "completed": data["completed"],
        "pass": data["pass"],
        "finals_per_s": round((_finals(last) - _finals(first)) / seconds, 1),
        "store_write_ms": {
            q: _ms(histogram_quantile(p, last.buckets(WRITE), first.buckets(WRITE)))
            for q, p in (("p50", 0.5), ("p99", 0.99))
        },
        "store_batches_per_s": round(batches / seconds, 2),
        "store_rows_per_s": round(rows / seconds, 1),
        "store_rows_per_batch": round(rows / batches, 1) if batches else None,
        # over the whole run (not only the window): any drop or failure is a finding
        "store_dropped": report.after.value("connector_store_dropped_total")
        - report.before.value("connector_store_dropped_total"),
        "store_failures": report.after.value("connector_store_write_failures_total")
        - report.before.value("connector_store_write_failures_total"),
        "store_backlog_max": max(s.metrics.value("connector_store_backlog") for s in report.window),
        "loop_lag_ms": data["loop_lag_ms"],
        "gc_pauses": data["gc_pauses"],  # collections the store's allocations may trigger stop the loop too
        "server_cpu_percent": data["server_cpu_percent"],
        "idle_rss_mb": data["idle_rss_mb"],
        "rss_mb": data["rss_mb"],
        # a plateau (spool, caches, allocator arenas) or a climb (a leak) while every call streams
        "rss_growth_over_window_mb": round((last_proc.rss_bytes - first_proc.rss_bytes) / 2**20, 1),
        "rss_mb_checkpoints": [round(s.proc.rss_bytes / 2**20, 1) for s in report.window],
        "threads": data["threads"],
        "pong_ms_p99": data["pong_ms"]["p99"],
        "backlog_s_per_session": data["backlog_s_per_session"],
        "client_cpu_percent": data["client_cpu_percent"],
        "other_load_percent": data["other_load_percent"],
        "window_seconds": data["window_seconds"],
        "server_exit": data["server_exit"],
    }


SIDE_COLUMNS = (
    ("store", lambda d: d["store"]),
    ("N", lambda d: d["sessions"]),
    ("ok", lambda d: d["completed"]),
    ("finals/s", lambda d: d["finals_per_s"]),
    ("write p50/p99 ms", lambda d: f"{d['store_write_ms']['p50']}/{d['store_write_ms']['p99']}"),
    ("rows/s", lambda d: d["store_rows_per_s"]),
    ("dropped", lambda d: d["store_dropped"]),
    ("failures", lambda d: d["store_failures"]),
    ("spool max", lambda d: d["store_backlog_max"]),
    ("lag p50/p99 ms", lambda d: f"{d['loop_lag_ms']['p50']}/{d['loop_lag_ms']['p99']}"),
    ("cpu %", lambda d: d["server_cpu_percent"]),
    ("RSS idle/calls MB", lambda d: f"{d['idle_rss_mb']}/{d['rss_mb']}"),
    ("pass", lambda d: "yes" if d["pass"] else "NO"),
)
EXPORT_COLUMNS = (
    ("backend", lambda d: d["backend"]),
    ("format", lambda d: d["format"]),
    ("rows", lambda d: d["rows"]),
    ("s", lambda d: d["seconds"]),
    ("rows/s", lambda d: d["rows_per_s"]),
    ("MB/s", lambda d: d["mb_per_s"]),
    ("first byte ms", lambda d: d["first_byte_ms"]),
    ("server cpu %", lambda d: d["server_cpu_percent"]),
    ("lag p99 ms", lambda d: d["loop_lag_ms_p99"]),
    ("RSS before MB", lambda d: d["rss_before_mb"]),
    ("peak RSS MB", lambda d: d["peak_rss_mb"]),
)


def _table(columns: Sequence[tuple[str, Any]], rows: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join([" | ".join(name for name, _ in columns), *(" | ".join(str(get(r)) for _, get in columns)
                                                                 for r in rows)])  # fmt: skip


class Backends:
    """Where each run's store lives: a fresh SQLite file, or a fresh database on the one cluster."""

    def __init__(self, names: Sequence[str], workdir: Path, cluster: PostgresCluster | None) -> None:
        self.names = list(names)
        self.workdir = workdir
        self.cluster = cluster
        self.made = 0

    def url(self, backend: str, label: str) -> str:
        self.made += 1
        if backend == "postgresql":
            assert self.cluster is not None
            return self.cluster.create_database(f"{label}_{self.made}")
        return f"sqlite:///{self.workdir / f'{label}-{self.made}.db'}"


async def side_by_side(args: argparse.Namespace, backends: Backends, log: IO[bytes] | None) -> list[dict[str, Any]]:
    plan = StepPlan(sessions=args.sessions, hold=args.hold, ramp_rate=args.ramp_rate, seed=args.seed)
    extra = dict(item.split("=", 1) for item in args.server_env)
    server_cpu = None if args.no_pin else args.server_cpu
    rows = []
    print(" | ".join(name for name, _ in SIDE_COLUMNS), flush=True)
    for _ in range(args.repeat):
        for store in [*([] if args.no_baseline else ["off"]), *backends.names]:
            url = "off" if store == "off" else backends.url(store, "load")
            env = {"NULL_FINAL_EVERY": str(args.final_every), "CONNECTOR_STORE_URL": url,
                   "CONNECTOR_API_ENABLED": "false", **extra}  # fmt: skip
            try:
                report = await run_step(plan, server_env=env, server_cpu=server_cpu, log=log, driver="light")
            except (StepFailed, RuntimeError, trio.TooSlowError) as exc:
                rows.append({"store": store, "sessions": args.sessions, "pass": False, "error": str(exc)})
                print(f"{store} | {args.sessions} | failed: {exc}", flush=True)
                continue
            row = {"store": store, **store_figures(report)}
            if store == "sqlite":
                row["database_mb"] = sqlite_size_mb(Path(url.removeprefix("sqlite:///")))
            rows.append(row)
            print(" | ".join(str(get(row)) for _, get in SIDE_COLUMNS), flush=True)
    return rows


async def export(args: argparse.Namespace, backends: Backends, log: IO[bytes] | None) -> list[dict[str, Any]]:
    server_cpu = None if args.no_pin else args.server_cpu
    plan = FillPlan(rows=args.export_rows, conversations=max(1, args.export_rows // 100), seed=args.seed)
    results = []
    header = True
    for backend in backends.names:
        url = backends.url(backend, "export")
        filled = await trio.to_thread.run_sync(fill, url, plan)
        if backend == "sqlite":
            filled["database_mb"] = sqlite_size_mb(Path(url.removeprefix("sqlite:///")))
        print(f"{backend}: filled {filled['rows']} rows in {filled['seconds']} s "
              f"({filled['rows_per_s']} rows/s; Database.write alone {filled['write_rows_per_s']} rows/s)",
              flush=True)  # fmt: skip
        token, port = secrets.token_urlsafe(24), free_port()
        env = bench_server_env("null", {
            "CONNECTOR_STORE_URL": url, "CONNECTOR_API_TOKENS": f"read:{token}", "CONNECTOR_API_HOST": "127.0.0.1",
            "CONNECTOR_API_PORT": str(port), "CONNECTOR_RETENTION_DAYS": "0",
        }, extra=args.server_env)  # fmt: skip
        metrics_token = env.get("CONNECTOR_METRICS_TOKEN") or None
        server = await ServerProcess.start(env, server_cpu, log)
        runs = []
        try:
            await wait_healthy(port)
            for fmt in args.export_formats.split(","):
                before = await server.scrape(metrics_token)
                run = await export_once(port, token, server.pid, fmt, DAY, DAY + timedelta(days=1))
                after = await server.scrape(metrics_token)
                lag = histogram_quantile(0.99, after.buckets(LAG), before.buckets(LAG))
                runs.append({"backend": backend, **run, "loop_lag_ms_p99": _ms(lag)})
                table = _table(EXPORT_COLUMNS, runs[-1:]).splitlines()
                print("\n".join(table if header else table[1:]), flush=True)
                header = False
        finally:
            with trio.CancelScope(shield=True):
                exit_code = await server.stop()
        results.append({"backend": backend, "fill": filled, "exports": runs, "server_exit": exit_code})
    return results


@contextlib.contextmanager
def _cluster(wanted: bool) -> Iterator[PostgresCluster | None]:
    if not wanted:
        yield None
        return
    with PostgresCluster() as cluster:
        yield cluster


async def _run(args: argparse.Namespace, log: IO[bytes] | None) -> dict[str, Any]:
    parts = set(args.parts.split(","))
    names = [name for name in args.backends.split(",") if name]
    if args.postgres and "postgresql" not in names:
        names.append("postgresql")
    if unknown := set(names) - {"sqlite", "postgresql"}:
        raise SystemExit(f"--backends: unknown {sorted(unknown)}; use sqlite and/or postgresql")
    with (
        tempfile.TemporaryDirectory(prefix="bench-store-", dir=args.sqlite_dir) as workdir,
        _cluster("postgresql" in names) as cluster,
    ):
        backends = Backends(names, Path(workdir), cluster)
        loaded = await side_by_side(args, backends, log) if "load" in parts else []
        exported = await export(args, backends, log) if "export" in parts else []
    return {
        "machine": machine_info(),
        "command": "python -m bench.store " + " ".join(sys.argv[1:]),
        "settings": {
            "sessions": args.sessions, "hold": args.hold, "ramp_rate": args.ramp_rate,
            "final_every": args.final_every, "driver": "light", "export_rows": args.export_rows,
            "server_cpu": None if args.no_pin else args.server_cpu,
            "client_cpu": None if args.no_pin else args.client_cpu,
            "backends": names,
            "postgres": "a throw-away cluster started by this process (on its core)" if "postgresql" in names else None,
        },
        "side_by_side": loaded,
        "export": exported,
    }


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1000, help="concurrent calls in the side-by-side runs")
    p.add_argument("--hold", type=float, default=60.0, help="seconds all calls stream together (measured)")
    p.add_argument("--ramp-rate", type=float, default=50.0, help="new calls per second while ramping up")
    p.add_argument("--final-every", type=float, default=6.0, help="seconds of audio per final, per call")
    p.add_argument("--no-baseline", action="store_true", help="skip the run with the store off")
    p.add_argument("--repeat", type=int, default=1, help="run the side-by-side sequence this many times")
    p.add_argument("--export-rows", type=int, default=1_000_000, help="utterances in the exported store")
    p.add_argument("--export-formats", default="jsonl,csv")
    p.add_argument("--parts", default="load,export", help="load, export or both (comma-separated)")
    p.add_argument("--backends", default="sqlite", help="stores to run with: sqlite, postgresql or both")
    p.add_argument("--sqlite-dir", help="where the SQLite files go (default: the system's temporary directory); "
                   "the file system matters: try the disk the service will use")
    p.add_argument("--postgres", action="store_true", help="add postgresql (a throw-away cluster) to --backends")
    add_server_options(p)
    p.add_argument("--json", help="write the full report here")
    p.add_argument("--server-log", help="append the servers' logs here (default: discarded)")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    result = run_benchmark(_arguments(argv), _run)
    if result["side_by_side"]:
        print("\n" + _table(SIDE_COLUMNS, [r for r in result["side_by_side"] if "error" not in r]), flush=True)
    exports = [run for backend in result["export"] for run in backend["exports"]]
    if exports:
        print("\n" + _table(EXPORT_COLUMNS, exports), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
