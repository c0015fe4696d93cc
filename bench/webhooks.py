"""Webhook benchmark (#12): what delivering every final costs the server, and how late it arrives.

    python -m bench.webhooks --sessions 1000 --hold 60 --json webhooks.json
    python -m bench.webhooks --phrase --json phrases.json      # phrase actions, real speech

**Side by side.** The load step of ``bench.load`` (N real-time stereo calls, light driver, server
pinned to ``--server-cpu``, this process to ``--client-cpu``) with the ``null`` engine emitting one
final per call every ``--final-every`` seconds on channel 0, run three ways: ``off`` (no store),
``store`` (SQLite store, no subscription) and ``webhooks`` (the same store plus a subscription to
``utterance.final`` at a receiver in this process, :mod:`bench.webhook_receiver`). ``store`` →
``webhooks`` is what delivery costs (the outbox rows, the claims, the HTTP requests); the rows show
the server's event-loop lag and CPU beside the delivery figures:

* latency per final = the receiver's arrival (wall clock) − the body's ``data.sentAt`` (when the
  final was written to Genesys, wall clock, same machine), p50/p99/max over every final of the
  run and over the steady window alone; ``sentAt`` has millisecond resolution, truncated, so a
  figure may be up to 1 ms high;
* deliveries/s in the steady window; duplicates (same ``webhook-id`` twice: allowed, counted);
* ``/metrics``: ``connector_webhook_delivery_seconds`` (queued → accepted, as the server saw it)
  p50/p99 over the window and the run, attempts per delivery, failures, dead letters, backlog.

Every final the server sent to Genesys (``connector_transcripts_sent_total{kind="final"}``) must
arrive: before the server is stopped (SIGTERM cancels the deliverer), the step waits, at most
``--drain-timeout`` seconds, until the receiver holds as many distinct deliveries as finals were
sent, and reports how long that took (``drain_s``).

**Phrase actions** (``--phrase``): :mod:`bench.webhook_phrase`.

Definitions: docs/measuring.md ("Webhooks and phrase actions"); results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from unittest import mock

if not __package__:  # run as ``python bench/webhooks.py``: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import trio

import bench.load
from bench.load import StepFailed, StepPlan, run_step
from bench.load_report import StepReport, machine_info
from bench.load_server import ServerProcess, add_server_options
from bench.probe import Metrics, histogram_quantile
from bench.runner import run_benchmark
from bench.webhook_receiver import Arrival, Receiver

__all__ = ["RUNS", "delivery_figures", "latency_ms", "main", "webhook_metrics"]

RUNS = ("off", "store", "webhooks")
DELIVERY = "connector_webhook_delivery_seconds"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def latency_ms(values: Sequence[float], quantiles: Sequence[int] = (50, 99)) -> dict[str, float | int | None]:
    """``p<q>`` for each quantile, max (ms) and count of latencies given in seconds."""
    array = np.asarray(values, dtype=float)
    out: dict[str, float | int | None] = {
        f"p{q}": _ms(float(np.percentile(array, q))) if array.size else None for q in quantiles
    }
    out["max"] = _ms(float(array.max())) if array.size else None
    out["count"] = int(array.size)
    return out


def finals_sent(metrics: Metrics) -> float:
    """Finals written to Genesys since the server started (every engine)."""
    return sum(
        v
        for (name, labels), v in metrics.samples.items()
        if name == "connector_transcripts_sent_total" and ("kind", "final") in labels
    )


def webhook_metrics(after: Metrics, before: Metrics) -> dict[str, Any]:
    """The deliverer's own figures between two scrapes."""
    count = after.value(f"{DELIVERY}_count") - before.value(f"{DELIVERY}_count")
    attempts = after.value("connector_webhook_attempts_sum") - before.value("connector_webhook_attempts_sum")
    return {
        "delivered": int(count),
        "delivery_ms": {
            q: _ms(histogram_quantile(p, after.buckets(DELIVERY), before.buckets(DELIVERY)))
            for q, p in (("p50", 0.5), ("p99", 0.99))
        },
        "attempts_per_delivery": round(attempts / count, 3) if count else None,
        "attempt_failures": after.total("connector_webhook_attempt_failures_total")
        - before.total("connector_webhook_attempt_failures_total"),
        "dead_letters": after.total("connector_webhook_dead_letters_total")
        - before.total("connector_webhook_dead_letters_total"),
    }


def _sent_at(arrival: Arrival) -> float:
    return datetime.fromisoformat(arrival.event()["data"]["sentAt"].replace("Z", "+00:00")).timestamp()


def delivery_figures(report: StepReport, receiver: Receiver, drain_s: float | None) -> dict[str, Any]:
    """Receiver-side latency and rate (all finals, and the steady window), and ``/metrics``."""
    first, last = report.window[0].metrics, report.window[-1].metrics
    # the warm-up calls' finals count as sent and delivered, but not in the latencies
    finals = [a for a in receiver.arrivals if a.at >= report.before.at and a.event()["type"] == "utterance.final"]
    latencies = [a.wall - _sent_at(a) for a in finals]
    window = [lat for a, lat in zip(finals, latencies, strict=True) if first.at <= a.at <= last.at]
    sent = finals_sent(report.after)
    return {
        "finals_sent": int(sent),
        "deliveries_received": len(receiver.ids),
        "all_delivered": len(receiver.ids) >= sent > 0,
        "duplicates": receiver.duplicates,
        "drain_s": drain_s,
        "latency_ms": latency_ms(latencies),
        "latency_ms_window": latency_ms(window),
        "deliveries_per_s": round(len(window) / max(1e-9, last.at - first.at), 1),
        "metrics_window": webhook_metrics(last, first),
        "metrics_run": webhook_metrics(report.after, report.before),
        "backlog_max": max(s.metrics.value("connector_webhook_backlog") for s in report.window),
    }


@contextlib.contextmanager
def _drained_before_stop(receiver: Receiver, timeout: float, waited: list[float]) -> Iterator[None]:
    """``run_step`` owns the server's life and stops it right after the calls have ended; SIGTERM
    cancels the deliverer, so the last finals' deliveries would stay in the outbox and look lost.
    While this is active, ``settled`` (the scrape ``run_step`` takes before stopping) also waits
    until the receiver holds a delivery for every final sent, and appends how long that took."""

    class Drained(ServerProcess):
        async def settled(self, token: str | None) -> Metrics:
            metrics = await super().settled(token)
            started = trio.current_time()
            with trio.move_on_after(timeout):
                while len(receiver.ids) < finals_sent(metrics):
                    await trio.sleep(0.05)
                    metrics = await self.scrape(token)
            waited.append(round(trio.current_time() - started, 3))
            return metrics

    with mock.patch.object(bench.load, "ServerProcess", Drained):
        yield


async def one_run(args: argparse.Namespace, name: str, workdir: Path, log: IO[bytes] | None) -> dict[str, Any]:
    """One side-by-side row: a fresh server (and store), the load step, its figures."""
    plan = StepPlan(sessions=args.sessions, hold=args.hold, ramp_rate=args.ramp_rate, seed=args.seed)
    env = {
        "NULL_FINAL_EVERY": str(args.final_every),
        "CONNECTOR_API_ENABLED": "false",
        "CONNECTOR_STORE_URL": "off" if name == "off" else f"sqlite:///{workdir / f'{name}.db'}",
    }
    server_cpu = None if args.no_pin else args.server_cpu
    receiver = Receiver()
    waited: list[float] = []
    async with trio.open_nursery() as nursery:
        if name == "webhooks":
            await nursery.start(receiver.serve)
            env["CONNECTOR_WEBHOOKS"] = json.dumps(
                [{"id": "bench", "url": receiver.url, "events": ["utterance.final"]}]
            )
        env.update(item.split("=", 1) for item in args.server_env)
        with (
            _drained_before_stop(receiver, args.drain_timeout, waited)
            if name == "webhooks"
            else contextlib.nullcontext()
        ):
            report = await run_step(plan, server_env=env, server_cpu=server_cpu, log=log, driver="light")
        nursery.cancel_scope.cancel()
    data = report.data
    row: dict[str, Any] = {
        "run": name,
        "sessions": data["sessions"],
        "completed": data["completed"],
        "pass": data["pass"],
        "finals_per_s": round(
            (finals_sent(report.window[-1].metrics) - finals_sent(report.window[0].metrics))
            / max(1e-9, report.window[-1].metrics.at - report.window[0].metrics.at),
            1,
        ),
        "loop_lag_ms": data["loop_lag_ms"],
        "server_cpu_percent": data["server_cpu_percent"],
        "gc_pauses": data["gc_pauses"],
        "rss_mb": data["rss_mb"],
        "threads": data["threads"],
        "pong_ms_p99": data["pong_ms"]["p99"],
        "backlog_s_per_session": data["backlog_s_per_session"],
        "client_cpu_percent": data["client_cpu_percent"],
        "client_loop_lag_ms_p99": data["client_loop_lag_ms_p99"],
        "other_load_percent": data["other_load_percent"],
        "window_seconds": data["window_seconds"],
        "server_exit": data["server_exit"],
    }
    if name == "webhooks":
        row["webhooks"] = delivery_figures(report, receiver, waited[-1] if waited else None)
    return row


def _webhook(row: Mapping[str, Any], key: str) -> str:
    hooks = row.get("webhooks")
    if hooks is None:
        return "-"
    if key == "latency":
        lat = hooks["latency_ms"]
        return f"{lat['p50']}/{lat['p99']}/{lat['max']}"
    if key == "server":
        m = hooks["metrics_run"]["delivery_ms"]
        return f"{m['p50']}/{m['p99']}"
    return f"{hooks['deliveries_received']}/{hooks['finals_sent']}"


COLUMNS = (
    ("run", lambda d: d["run"]),
    ("N", lambda d: d["sessions"]),
    ("ok", lambda d: d["completed"]),
    ("finals/s", lambda d: d["finals_per_s"]),
    ("delivered/sent", lambda d: _webhook(d, "count")),
    ("sentAt→received p50/p99/max ms", lambda d: _webhook(d, "latency")),
    ("/metrics delivery p50/p99 ms", lambda d: _webhook(d, "server")),
    ("lag p50/p99 ms", lambda d: f"{d['loop_lag_ms']['p50']}/{d['loop_lag_ms']['p99']}"),
    ("cpu %", lambda d: d["server_cpu_percent"]),
    ("client cpu %", lambda d: d["client_cpu_percent"]),
    ("pass", lambda d: "yes" if d["pass"] else "NO"),
)


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        [" | ".join(name for name, _ in COLUMNS), *(" | ".join(str(get(r)) for _, get in COLUMNS) for r in rows)]
    )


async def side_by_side(args: argparse.Namespace, log: IO[bytes] | None) -> list[dict[str, Any]]:
    runs = [name for name in args.runs.split(",") if name]
    if unknown := set(runs) - set(RUNS):
        raise SystemExit(f"--runs: unknown {sorted(unknown)}; use {', '.join(RUNS)}")
    rows: list[dict[str, Any]] = []
    print(" | ".join(name for name, _ in COLUMNS), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as workdir:
        for name in runs:
            try:
                row = await one_run(args, name, Path(workdir), log)
            except (StepFailed, RuntimeError, trio.TooSlowError) as exc:
                rows.append({"run": name, "sessions": args.sessions, "pass": False, "error": str(exc)})
                print(f"{name} | {args.sessions} | failed: {exc}", flush=True)
                continue
            rows.append(row)
            print(table([row]).splitlines()[1], flush=True)
    return rows


async def _run(args: argparse.Namespace, log: IO[bytes] | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "machine": machine_info(),
        "command": "python -m bench.webhooks " + " ".join(sys.argv[1:]),
        "server_cpu": None if args.no_pin else args.server_cpu,
        "client_cpu": None if args.no_pin else args.client_cpu,
    }
    if args.phrase:
        from bench.webhook_phrase import run_phrases

        result["settings"] = {
            "calls": args.calls,
            "phrases": args.phrases,
            "spacing": args.spacing,
            "model": args.model,
            "frame_ms": args.frame_ms,
        }
        result["phrase"] = await run_phrases(args, log)
    else:
        result["settings"] = {
            "sessions": args.sessions,
            "hold": args.hold,
            "ramp_rate": args.ramp_rate,
            "final_every": args.final_every,
            "driver": "light",
            "runs": args.runs,
        }
        result["side_by_side"] = await side_by_side(args, log)
    return result


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1000, help="concurrent calls in the side-by-side runs")
    p.add_argument("--hold", type=float, default=60.0, help="seconds all calls stream together (measured)")
    p.add_argument("--ramp-rate", type=float, default=50.0, help="new calls per second while ramping up")
    p.add_argument("--final-every", type=float, default=6.0, help="seconds of audio per final, per call")
    p.add_argument("--runs", default=",".join(RUNS), help="which rows, in order: off, store, webhooks")
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="longest wait, after the calls, for the last deliveries before stopping the server",
    )
    phrase = p.add_argument_group("phrase actions (--phrase)")
    phrase.add_argument("--phrase", action="store_true", help="run the phrase benchmark instead of the side by side")
    phrase.add_argument("--calls", type=int, default=4, help="concurrent calls, each saying the phrase --phrases times")
    phrase.add_argument("--phrases", type=int, default=5, help="occurrences of the phrase per call")
    phrase.add_argument("--spacing", type=float, default=6.0, help="seconds from one occurrence to the next")
    phrase.add_argument("--model", default="base", help="LOCAL_MODEL of the local engine")
    phrase.add_argument("--frame-ms", type=int, default=200, help="frame size (Genesys sends 200 ms)")
    add_server_options(p)
    p.add_argument("--json", help="write the full report here")
    p.add_argument("--server-log", help="append the servers' logs here (default: discarded)")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    result = run_benchmark(_arguments(argv), _run)
    if "side_by_side" in result:
        print("\n" + table([r for r in result["side_by_side"] if "error" not in r]), flush=True)
    if "phrase" in result:
        from bench.webhook_phrase import summary_line

        print("\n" + summary_line(result["phrase"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
