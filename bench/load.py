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
import math
import os
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

if not __package__:  # run as ``python bench/load.py``: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import trio

from bench.light_client import LightDriver
from bench.load_report import (
    COLUMNS,
    OURS,
    Snapshot,
    StepReport,
    format_row,
    frame_lateness,
    machine_info,
    summarise,
)
from bench.load_server import BENCH_KEY, BENCH_SECRET, ServerProcess, add_server_options, bench_server_env, py_spy
from bench.other_server import OtherServer, OtherTarget, parse_compare
from bench.probe import cpu_busy_seconds
from bench.runner import run_benchmark
from connector.loop_lag import watch_loop_lag
from connector.simulator import AudioSource, CallConfig, CallResult, DiscardAt, Injection, PauseAt, UpdateAt, run_call
from connector.vocabulary import SAMPLE_RATE

__all__ = ["StepPlan", "StepReport", "format_row", "frame_lateness", "main", "run_step", "summarise"]

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
    env = bench_server_env("null", server_env)
    token = env.get("CONNECTOR_METRICS_TOKEN") or None
    server: ServerProcess | OtherServer
    secret: str | None
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
                nursery.start_soon(py_spy, server.pid, profile, end - at)
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


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", default="100,250,500,1000,1500", help="comma-separated steps of concurrent calls")
    p.add_argument("--hold", type=float, default=30.0, help="seconds all N calls stream together (measured)")
    p.add_argument("--ramp-rate", type=float, default=50.0, help="new calls per second while ramping up")
    p.add_argument("--frame-mix", default=DEFAULT_FRAME_MIX, help="frame ms:weight list (20-200 ms)")
    p.add_argument("--control-share", type=float, default=0.2, help="share of calls with pause/discard/update")
    p.add_argument("--ping-interval", type=float, default=5.0)
    p.add_argument("--engine", default="null", help="engine the server runs (null = protocol path only)")
    add_server_options(p)
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
    reps = math.ceil(seconds * SAMPLE_RATE / max(1, source.samples))
    return AudioSource(np.tile(source.pcm, (reps, 1))[: round(seconds * SAMPLE_RATE)], name=source.name)


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
    print(" | ".join(name for name, _ in COLUMNS), flush=True)
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
