"""Protocol-path load benchmark: how many real-time calls one server core carries.

    python -m bench.load --sessions 100,250,500,1000,1500 --json bench-results.json

For each step N it starts the real server as its own process (``bench.server``, pinned with
``taskset`` to ``--server-cpu``), pins this load generator to ``--client-cpu``, and drives N
concurrent stereo calls with the AudioHook simulator: arriving at ``--ramp-rate`` calls/s,
streaming at real time in a mix of 20-200 ms frames, pinging like Genesys, a share of them
pausing, discarding or switching language, all ending with ``close``. Once all N stream, it
measures a steady window of ``--hold`` seconds:

* server CPU, RSS and threads from ``/proc`` (per session: (RSS with N - RSS idle) / N);
* event-loop lag p99 from the server's own histogram (``connector_event_loop_lag_seconds``);
* backlog: audio the clients have sent that the server has not yet taken in (``/metrics``
  ``connector_audio_received_seconds_total`` against the clients' frame log), which is what
  "holds real time" means: the backlog stays near zero instead of growing;

and, over the whole run, client-side ``opened`` and ``pong`` latency and whether every call
ended with ``closed`` and no protocol error. A step passes when all calls completed, pong p99
< 100 ms and the backlog stays under 250 ms per call; the knee is the largest passing N.
Definitions follow docs/measuring.md.

Side by side: ``--compare-cmd 'node server.js --port {port}'`` runs every step a second time
against another AudioHook server, same calls, same seed, same pinning, and prints its row
under ours (see ``bench/other_server.py`` for what can and cannot be measured from outside).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import trio

from bench.light_client import LightDriver
from bench.other_server import OtherServer, OtherTarget, parse_compare
from bench.probe import Metrics, ProcSample, cpu_busy_seconds, histogram_quantile, sample_process, scrape
from bench.runner import run_benchmark
from connector.loop_lag import watch_loop_lag
from connector.simulator import AudioSource, CallConfig, CallResult, DiscardAt, Injection, PauseAt, UpdateAt, run_call

__all__ = ["StepPlan", "StepReport", "main", "run_step"]

REPO = Path(__file__).resolve().parent.parent
BENCH_KEY = "bench-key"
BENCH_SECRET = base64.b64encode(b"benchmark-client-secret-0123456789").decode()

OURS = "connector"
PONG_P99_LIMIT = 0.100
BACKLOG_LIMIT = 0.25
"""Seconds of audio per call the server may be behind the clients and still count as real time."""
LATENESS_LIMIT = 0.25
"""Client frames later than this (p99) mean the load generator itself could not keep up."""
DEFAULT_FRAME_MIX = "20:0.1,40:0.1,100:0.3,200:0.5"


class StepFailed(Exception):
    """The step produced no measurement (the server was too overloaded to answer ``/metrics``)."""


@dataclass
class StepPlan:
    sessions: int
    hold: float = 30.0
    ramp_rate: float = 50.0
    frame_mix: Sequence[tuple[int, float]] = ((20, 0.1), (40, 0.1), (100, 0.3), (200, 0.5))
    control_share: float = 0.2
    ping_interval: float = 5.0
    settle: float = 2.0
    checkpoint: float = 5.0
    seed: int = 1

    @property
    def ramp(self) -> float:
        return self.sessions / self.ramp_rate

    @property
    def call_seconds(self) -> float:
        """Each call streams this long, so that all N overlap for ``hold`` seconds."""
        return self.ramp + self.hold


@dataclass
class ServerProcess:
    """The server under test, in its own process (optionally pinned to one CPU)."""

    process: trio.Process
    port: int
    pid: int

    @classmethod
    async def start(cls, env: Mapping[str, str], cpu: int | None, log: IO[bytes] | None) -> ServerProcess:
        command = [sys.executable, "-m", "bench.server"]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
        process = await trio.lowlevel.open_process(
            command, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL
        )
        assert process.stdout is not None
        line = b""
        with trio.fail_after(60):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(1)
                if not chunk:
                    raise RuntimeError(f"server exited before listening (code {await process.wait()})")
                line += chunk
        ready = json.loads(line)
        return cls(process, int(ready["port"]), int(ready["pid"]))

    def sample(self) -> ProcSample:
        return sample_process(self.pid)

    async def scrape(self, token: str | None) -> Metrics:
        return await scrape(self.port, token, within=30)

    async def settled(self, token: str | None) -> Metrics:
        """The final scrape, once the server has recorded the end of every session (bounded wait)."""
        metrics = await self.scrape(token)
        with trio.move_on_after(10):
            while metrics.value("connector_sessions_active") > 0:
                await trio.sleep(0.05)
                metrics = await self.scrape(token)
        return metrics

    async def stop(self, grace: float = 60.0) -> int:
        """SIGTERM (graceful drain), then SIGKILL if it does not exit in time."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        with trio.move_on_after(grace):
            return await self.process.wait()
        self.process.kill()
        return await self.process.wait()


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


def _client_cpu() -> float:
    times = os.times()
    return times.user + times.system


def parse_frame_mix(text: str) -> list[tuple[int, float]]:
    mix = []
    for part in text.split(","):
        size, _, weight = part.partition(":")
        mix.append((int(size), float(weight or 1)))
    if not mix or any(not 20 <= s <= 200 or w <= 0 for s, w in mix):
        raise ValueError("frame mix entries are ms:weight with 20 <= ms <= 200 and weight > 0")
    return mix


def plan_calls(
    plan: StepPlan, url: str, api_key: str = BENCH_KEY, client_secret: str | None = BENCH_SECRET
) -> list[tuple[float, CallConfig]]:
    """(start offset, config) per call: frame size from the mix, a share with control messages."""
    rng = random.Random(plan.seed)
    sizes = [s for s, _ in plan.frame_mix]
    weights = [w for _, w in plan.frame_mix]
    span = plan.call_seconds
    calls = []
    for index in range(plan.sessions):
        injections: tuple[Injection, ...] = ()
        if rng.random() < plan.control_share:
            at = round(rng.uniform(2.0, max(2.5, span - 6.0)), 2)
            kind = rng.choice(("pause", "discard", "update"))
            if kind == "pause":
                injections = (PauseAt(at, 2.0),)
            elif kind == "discard":
                injections = (DiscardAt(at, 1.0),)
            else:
                injections = (UpdateAt(at, "es-ES"),)
        config = CallConfig(
            url=url,
            api_key=api_key,
            client_secret=client_secret,
            frame_ms=rng.choices(sizes, weights)[0],
            duration=span,
            ping_interval=plan.ping_interval,
            injections=injections,
        )
        # Calls start at random instants within their ramp slot, as real calls do: starting
        # them exactly 1/ramp-rate apart would line every call's frames up on one 20 ms grid,
        # and the server would get all frames of a tick in one burst.
        calls.append(((index + rng.random()) / plan.ramp_rate, config))
    return calls


def frame_lateness(result: CallResult, discards: Sequence[DiscardAt]) -> list[float]:
    """How late each frame left against the call's own real-time schedule (seconds, >= 0).

    A frame ending at stream sample p is due at ``t0 + p / 8000`` (a pause advances the
    stream with the clock, so it keeps that schedule); a discard skips stream time without
    wall time, so its length comes off. ``t0`` is taken from the most punctual frame.
    """
    if not result.frame_times:
        return []
    ends = np.asarray(result.frame_ends, dtype=np.float64) / 8000
    for discard in discards:
        ends -= np.where(ends > discard.at, discard.duration, 0.0)
    offsets = np.asarray(result.frame_times) - ends
    return list(offsets - offsets.min())


async def _snapshot(
    server: ServerProcess | OtherServer, token: str | None, driver: LightDriver | None
) -> Snapshot | None:
    """One checkpoint; ``None`` if the server could not answer ``/metrics`` within 30 s (overloaded)."""
    sent = driver.sent_seconds if driver is not None else None
    try:
        metrics = await server.scrape(token)
    except (trio.TooSlowError, OSError):
        return None
    return Snapshot(server.sample(), metrics, _client_cpu(), cpu_busy_seconds(), sent)


async def run_step(
    plan: StepPlan,
    *,
    server_env: Mapping[str, str],
    server_cpu: int | None,
    audio: AudioSource | None = None,
    log: IO[bytes] | None = None,
    profile: Path | None = None,
    driver: str = "simulator",
    other: OtherTarget | None = None,
) -> StepReport:
    """One step: a fresh server (ours, or ``other``), a warm-up, N calls, measurements, a stop."""
    env = {
        "CONNECTOR_HOST": "127.0.0.1",
        "CONNECTOR_PORT": "0",
        "CONNECTOR_API_KEYS": f"{BENCH_KEY}:{BENCH_SECRET}",
        "CONNECTOR_ENGINES": "null",
        "CONNECTOR_DEFAULT_ENGINE": "null",
        "CONNECTOR_METRICS": "true",
        **server_env,
    }
    token = env.get("CONNECTOR_METRICS_TOKEN") or None
    server: ServerProcess | OtherServer
    if other is None:
        server = await ServerProcess.start(env, server_cpu, log)
        url, key, secret = f"ws://127.0.0.1:{server.port}/audiohook", BENCH_KEY, BENCH_SECRET
    else:
        server = await OtherServer.start(other, server_cpu, log)
        url, key, secret = server.url, other.api_key, other.client_secret
    try:
        audio = audio or AudioSource.tone(plan.call_seconds + 1, level=0.05)
        # warm-up: import everything a session touches before measuring the idle baseline
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                warm = CallConfig(url=url, api_key=key, client_secret=secret, speed=0, duration=1.0)
                nursery.start_soon(run_call, warm, None)
        before, idle = await server.settled(token), server.sample()

        calls = plan_calls(plan, url, key, secret)
        results: list[CallResult | None] = [None] * len(calls)
        window: list[Snapshot] = []
        client_lags: list[float] = []
        unanswered: list[float] = []
        start = trio.current_time()

        light = LightDriver() if driver == "light" else None

        async def call(index: int, offset: float, config: CallConfig) -> None:
            await trio.sleep_until(start + offset)
            if light is not None:
                results[index] = await light.run(config, helpers)
            else:
                results[index] = await run_call(config, audio)

        async def watch() -> None:
            settle = min(plan.settle, plan.hold / 4)
            at = start + plan.ramp + settle
            end = start + plan.ramp + plan.hold - settle
            if profile is not None and not isinstance(server, OtherServer):
                await trio.sleep_until(at)
                nursery.start_soon(_py_spy, server.pid, profile, end - at)
            while at < end - 0.5:
                await trio.sleep_until(at)
                take(await _snapshot(server, token, light))
                at += plan.checkpoint
            if len(window) < 2 or window[-1].proc.at < end - 0.5:
                await trio.sleep_until(max(end, trio.current_time()))
                take(await _snapshot(server, token, light))

        def take(snapshot: Snapshot | None) -> None:
            if snapshot is None:
                unanswered.append(trio.current_time())
            else:
                window.append(snapshot)

        async with trio.open_nursery() as outer:
            outer.start_soon(watch_loop_lag, 0.1, client_lags.append)
            if light is not None:
                outer.start_soon(light.schedule)
            async with trio.open_nursery() as helpers, trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                for index, (offset, config) in enumerate(calls):
                    nursery.start_soon(call, index, offset, config)
            outer.cancel_scope.cancel()
        after = await server.settled(token)
        if len(window) < 2:
            raise StepFailed(f"the server answered {len(window)} of {len(window) + len(unanswered)} scrapes")
    finally:
        with trio.CancelScope(shield=True):
            exit_code = await server.stop()
    done = [r for r in results if r is not None]
    pinned = os.sched_getaffinity(0)
    report = StepReport(
        plan, done, idle, window, before, after, exit_code,
        server_cpu_index=server_cpu,
        client_cpu_index=next(iter(pinned)) if len(pinned) == 1 else None,
        client_lags=client_lags,
        lateness=list(light.lateness) if light is not None else None,
        server_name=other.name if other is not None else OURS,
    )
    report.data = summarise(report, calls)
    return report


async def _py_spy(pid: int, output: Path, seconds: float) -> None:
    """Sample the server with py-spy (collapsed stacks, ``--format raw``) for ``seconds``."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--format", "raw",
               "--output", str(output), "--nonblocking"]
    await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)


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
        [(np.asarray(r.frame_ends) - np.asarray(r.frame_starts)) / 8000 for r in report.results]
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


_COLUMNS = (
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
    return " | ".join(str(get(data)) for _, get in _COLUMNS)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="100,250,500,1000,1500", help="comma-separated steps of concurrent calls")
    p.add_argument("--hold", type=float, default=30.0, help="seconds all N calls stream together (measured)")
    p.add_argument("--ramp-rate", type=float, default=50.0, help="new calls per second while ramping up")
    p.add_argument("--frame-mix", default=DEFAULT_FRAME_MIX, help="frame ms:weight list (20-200 ms)")
    p.add_argument("--control-share", type=float, default=0.2, help="share of calls with pause/discard/update")
    p.add_argument("--ping-interval", type=float, default=5.0)
    p.add_argument("--engine", default="null", help="engine the server runs (null = protocol path only)")
    p.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to (taskset)")
    p.add_argument("--client-cpu", type=int, default=1, help="CPU this load generator is pinned to")
    p.add_argument("--no-pin", action="store_true", help="do not pin either process")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE", help="extra server setting")
    p.add_argument("--wav", help="audio to stream (looped); default a quiet tone (enough for the null engine)")
    p.add_argument("--stop-after-fail", action="store_true", help="stop at the first failing step")
    p.add_argument("--json", help="write the full report here")
    p.add_argument("--server-log", help="append the server's log here (default: discarded)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--driver", choices=("simulator", "light"), default="simulator",
                   help="simulator: the strict Genesys-like client (saturates its core near 400 calls); "
                   "light: bench/light_client.py, the same server-side work at a fraction of the client CPU")
    p.add_argument("--py-spy", metavar="PREFIX", help="profile the server with py-spy during each window "
                   "(writes PREFIX-N.txt collapsed stacks; pip install py-spy)")
    other = p.add_argument_group("side by side with another AudioHook server")
    other.add_argument("--compare-cmd", metavar="COMMAND",
                       help="shell command starting the other server; {port} (and $PORT) is the port to listen on")
    other.add_argument("--compare-name", default="other", help="its name in the report")
    other.add_argument("--compare-path", default="/", help="its WebSocket path (e.g. /api/v1/audiohook/ws)")
    other.add_argument("--compare-api-key", default="other-key", help="X-API-KEY the calls send it")
    other.add_argument("--compare-secret", help="base64 client secret to sign its upgrades with (default: unsigned)")
    other.add_argument("--compare-cwd", help="directory to start it in")
    return p.parse_args(argv)


def _looped(path: str, seconds: float) -> AudioSource:
    source = AudioSource.from_wav(path)
    reps = math.ceil(seconds * 8000 / max(1, source.samples))
    return AudioSource(np.tile(source.pcm, (reps, 1))[: round(seconds * 8000)], name=source.name)


async def _run(args: argparse.Namespace, log: IO[bytes] | None) -> dict[str, Any]:
    steps = [int(s) for s in args.sessions.split(",") if s.strip()]
    server_env = dict(item.split("=", 1) for item in args.server_env)
    server_env.setdefault("CONNECTOR_ENGINES", args.engine)
    server_env.setdefault("CONNECTOR_DEFAULT_ENGINE", args.engine)
    server_cpu = None if args.no_pin else args.server_cpu
    targets: list[OtherTarget | None] = [None]
    if args.compare_cmd:
        targets.append(parse_compare(
            args.compare_name, args.compare_cmd, args.compare_path, args.compare_api_key, args.compare_secret,
            args.compare_cwd,
        ))
    failed: set[str] = set()
    reports: list[dict[str, Any]] = []
    print(" | ".join(name for name, _ in _COLUMNS), flush=True)
    for n in steps:
        plan = StepPlan(
            sessions=n,
            hold=args.hold,
            ramp_rate=args.ramp_rate,
            frame_mix=parse_frame_mix(args.frame_mix),
            control_share=args.control_share,
            ping_interval=args.ping_interval,
            seed=args.seed,
        )
        audio = _looped(args.wav, plan.call_seconds + 1) if args.wav else None
        profile = Path(f"{args.py_spy}-{n}.txt") if args.py_spy else None
        for target in targets:
            name = OURS if target is None else target.name
            if name in failed:
                continue
            try:
                report = await run_step(
                    plan, server_env=server_env, server_cpu=server_cpu, audio=audio, log=log, profile=profile,
                    driver=args.driver, other=target,
                )
            except (StepFailed, RuntimeError, trio.TooSlowError) as exc:
                reports.append({"server": name, "sessions": n, "pass": False, "error": str(exc)})
                print(f"{name} | {n} | failed: {exc}", flush=True)
                failed.add(name)
                continue
            reports.append(report.data)
            print(format_row(report.data), flush=True)
            if args.stop_after_fail and not report.data["pass"]:
                failed.add(name)
        if len(failed) == len(targets):
            break
    knees = {}
    for target in targets:
        name = OURS if target is None else target.name
        passing = [d["sessions"] for d in reports if d.get("server", OURS) == name and d["pass"]]
        knees[name] = max(passing) if passing else None
    return {
        "machine": machine_info(),
        "command": "python -m bench.load " + " ".join(sys.argv[1:]),
        "settings": {
            "engine": args.engine,
            "driver": args.driver,
            "hold": args.hold,
            "ramp_rate": args.ramp_rate,
            "frame_mix": args.frame_mix,
            "control_share": args.control_share,
            "ping_interval": args.ping_interval,
            "server_cpu": server_cpu,
            "client_cpu": None if args.no_pin else args.client_cpu,
            "compare": None if len(targets) < 2 else {"name": args.compare_name, "command": args.compare_cmd},
        },
        "steps": reports,
        "knee": knees[OURS],
        "knees": knees,
    }


def main(argv: Sequence[str] | None = None) -> int:
    result = run_benchmark(_arguments(argv), _run)
    for name, knee in result["knees"].items():
        print(f"knee ({name}): {knee} concurrent calls", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
