"""Soak benchmark: does the server come back to where it started after many long calls?

    python -m bench.soak --engine null --calls 200 --minutes 10 --json soak-null.json
    python -m bench.soak --engine local --model base --calls 8 --minutes 10 --json soak-base.json
    python -m bench.soak --engine local --model base --calls 1 --minutes 120 --speed auto --json long-call.json

It starts the real server as its own process (``bench.server``, as ``bench.load`` does; pinned
with ``taskset`` to ``--server-cpu`` unless ``--no-pin``), warms it up (and, with ``--speed
auto``, finds how fast the engine takes one call's audio), and then samples the *server
process* every ``--interval`` seconds through four phases (``bench/soak_sampling.py``):

* **before**: idle for ``--baseline`` seconds after the warm-up;
* **during**: ``--calls`` stereo calls started over ``--ramp`` seconds, each streaming
  ``--minutes`` of audio at ``--speed`` times real time and ending with ``close``;
* **drain**: calls ended, until the server reports no session (``connector_sessions_active``);
* **after**: idle again for ``--after`` seconds.

Each sample: RSS, threads and CPU (``/proc/<pid>``), open file descriptors (``/proc/<pid>/fd``),
sessions and dropped audio (``/metrics``). ``--gc-route`` adds the objects Python's collector
tracks (the benchmark server's ``/debug/gc``) and one full collection once idle; it is for
diagnosing a slope, not for the figures: each read runs a young collection and lists every
object in the server's loop, and reading it every second made RSS grow by itself. The figures
(docs/measuring.md): the **RSS slope**, least squares over the steady part of ``during`` (from
``--warmup`` seconds after the last call started to the first call's end), in MB per minute;
the same slope for fds, threads and tracked objects; and **after − before** for each reading.
The run passes when every call completed, no audio was dropped, |RSS slope| ≤ ``--max-slope``,
and fds and threads came back to their idle values.

With the ``null`` engine (protocol path) the calls come from ``bench/light_client.py`` (a tone);
with an engine they come from the simulator (``connector.simulator``), each a different
espeak-ng conversation (``bench/conversation.py``; ``apt-get install espeak-ng``).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

if not __package__:  # run as ``python bench/soak.py``: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import trio

from bench.light_client import LightDriver
from bench.load_report import machine_info
from bench.load_server import BENCH_KEY, BENCH_SECRET, ServerProcess, add_server_options, bench_server_env
from bench.runner import run_benchmark
from bench.soak_sampling import Sample, figures, full_collection, samples_json, take_sample
from connector.simulator import AudioSource, CallConfig, CallResult, run_call
from connector.vocabulary import SAMPLE_RATE

__all__ = ["main"]

CONVERSATION_BLOCK = 600.0
"""Longer calls repeat a conversation of this many seconds (it ends in silence, so it loops cleanly)."""


def _conversation(seed: int, seconds: float) -> AudioSource:
    from bench.conversation import build_conversation  # needs espeak-ng: imported only for engine runs

    block = build_conversation(random.Random(seed), min(seconds, CONVERSATION_BLOCK)).source
    samples = round(seconds * SAMPLE_RATE)
    if block.samples >= samples:
        return block
    reps = -(-samples // block.samples)
    return AudioSource(np.tile(block.pcm, (reps, 1))[:samples], name="conversation (looped)")


def _failure(result: CallResult | None) -> str:
    if result is None:
        return "not finished"
    problems = [e.message for e in result.protocol_errors] + [f"timeout {t}" for t in result.timeouts]
    return result.error or "; ".join(problems) or f"disconnect {result.disconnect_reason}"


class Soak:
    """One run: the server, the calls, the sampler and the phase they are in."""

    def __init__(self, args: argparse.Namespace, server: ServerProcess) -> None:
        self.args, self.server = args, server
        self.url = f"ws://127.0.0.1:{server.port}/audiohook"
        self.samples: list[Sample] = []
        self.phase = "before"
        self.origin = trio.current_time()
        self.marks: dict[str, float] = {}

    def config(self, **changes: Any) -> CallConfig:
        base: dict[str, Any] = {"url": self.url, "api_key": BENCH_KEY, "client_secret": BENCH_SECRET,
                                "frame_ms": self.args.frame_ms}
        return CallConfig(**{**base, **changes})

    def mark(self, name: str) -> None:
        self.marks[name] = round(trio.current_time() - self.origin, 2)

    async def sample(self) -> Sample:
        sample = await take_sample(self.server, self.phase, self.origin, self.args.gc_route)
        self.samples.append(sample)
        return sample

    async def sampler(self) -> None:
        at = trio.current_time()
        while True:
            await self.sample()
            at += self.args.interval
            await trio.sleep_until(at)

    async def warm_up(self) -> None:
        """Import and load everything a session touches before the idle baseline."""
        with trio.fail_after(180):
            if self.args.engine == "null":
                async with trio.open_nursery() as nursery:
                    for _ in range(3):
                        nursery.start_soon(run_call, self.config(speed=0, duration=1.0), None)
            else:
                await run_call(self.config(speed=0), _conversation(-1, 6.0))
            await self.server.settled(None)

    async def calibrate(self) -> tuple[float, list[dict[str, Any]]]:
        """The highest of ``--calibrate-speeds`` at which one call's audio is taken in without the
        engine falling behind (no audio dropped, ``closed`` within 2 s of ``close``), times the margin."""
        trials: list[dict[str, Any]] = []
        audio = _conversation(self.args.seed + 1000, self.args.calibrate_seconds)
        for speed in sorted((float(s) for s in self.args.calibrate_speeds.split(",")), reverse=True):
            dropped = (await self.server.scrape(None)).value("connector_audio_dropped_seconds_total")
            with trio.fail_after(self.args.calibrate_seconds / speed + 120):
                result = await run_call(self.config(speed=speed, close_timeout=60.0), audio)
            await self.server.settled(None)
            dropped = (await self.server.scrape(None)).value("connector_audio_dropped_seconds_total") - dropped
            latency = result.close_latency
            kept_up = result.ok and dropped == 0 and latency is not None and latency <= 2.0
            trials.append({"speed": speed, "ok": result.ok, "audio_dropped_s": dropped,
                           "close_latency_s": None if latency is None else round(latency, 2), "kept_up": kept_up})
            print(f"calibration: speed {speed:g}: close latency {latency} s, dropped {dropped} s, "
                  f"{'keeps up' if kept_up else 'behind'}", flush=True)
            if kept_up:
                return round(speed * self.args.calibrate_margin, 2), trials
        return 1.0, trials

    async def calls(self, speed: float) -> list[CallResult | None]:
        args = self.args
        seconds = args.minutes * 60
        results: list[CallResult | None] = [None] * args.calls
        light = LightDriver() if args.driver == "light" else None
        audio: list[AudioSource] = []
        if light is None:
            if args.engine == "null":
                audio = [AudioSource.tone(seconds + 1, level=0.05)] * args.calls
            else:
                audio = [_conversation(args.seed + i, seconds) for i in range(args.calls)]
        start = trio.current_time()

        async def call(index: int, helpers: trio.Nursery) -> None:
            await trio.sleep_until(start + index * args.ramp / max(1, args.calls))
            config = self.config(duration=seconds, speed=speed)
            if light is not None:
                results[index] = await light.run(config, helpers)
            else:
                results[index] = await run_call(config, audio[index])

        async with trio.open_nursery() as outer:
            if light is not None:
                outer.start_soon(light.schedule)
            async with trio.open_nursery() as helpers, trio.open_nursery() as nursery:
                for index in range(args.calls):
                    nursery.start_soon(call, index, helpers)
            outer.cancel_scope.cancel()
        return results

    async def drain(self) -> None:
        """Sample until the server serves no session (bounded by ``--drain-timeout``)."""
        with trio.move_on_after(self.args.drain_timeout):
            while (await self.server.settled(None)).value("connector_sessions_active") > 0:
                pass  # ``settled`` polls for up to 10 s per round


async def _run(args: argparse.Namespace, log: IO[bytes] | None) -> dict[str, Any]:
    env = bench_server_env(
        args.engine,
        {} if args.engine == "null" else {"LOCAL_MODEL": args.model},
        {"BENCH_GC_STATS": "1"} if args.gc_route else {},
        extra=args.server_env,
    )
    server_cpu = None if args.no_pin else args.server_cpu
    server = await ServerProcess.start(env, server_cpu, log)
    calibration: list[dict[str, Any]] | None = None
    collected: dict[str, Any] | None = None
    try:
        soak = Soak(args, server)
        await soak.warm_up()
        speed = 1.0 if args.speed == "auto" and args.engine == "null" else args.speed
        if speed == "auto":
            speed, calibration = await soak.calibrate()
        speed = float(speed)
        print(f"streaming {args.calls} call(s) of {args.minutes:g} min at speed {speed:g} "
              f"(about {args.minutes * 60 / speed / 60:.1f} min)", flush=True)
        soak.origin = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(soak.sampler)
            await trio.sleep(args.baseline)
            soak.phase = "during"
            soak.mark("calls_started")
            results = await soak.calls(speed)
            soak.phase = "drain"
            soak.mark("calls_ended")
            await soak.drain()
            soak.mark("idle")
            if args.gc_route:
                collected = await full_collection(server.port)
            soak.phase = "after"
            await trio.sleep(args.after)
            nursery.cancel_scope.cancel()
        await soak.sample()  # the last reading, after the full ``--after`` wait
    finally:
        with trio.CancelScope(shield=True):
            exit_code = await server.stop()
    call_wall = args.minutes * 60 / speed
    warmup = args.warmup if args.warmup is not None else min(120.0, 0.25 * call_wall)
    steady = (soak.marks["calls_started"] + args.ramp + warmup, soak.marks["calls_started"] + call_wall)
    data = figures(soak.samples, steady)
    done = [r for r in results if r is not None]
    close = [r.close_latency for r in done if r.close_latency is not None]
    data["calls"] = {
        "started": args.calls,
        "completed": sum(r.ok for r in done),
        "failures": sorted({_failure(r) for r in results if r is None or not r.ok})[:5],
        "finals": sum(len(r.finals) for r in done),
        "audio_seconds_sent": round(sum(r.audio_seconds_sent for r in done), 1),
        "close_latency_s_max": round(max(close), 2) if close else None,
    }
    before = data["fds"]["before"]["max"], data["threads"]["before"]["max"]
    last = soak.samples[-1]
    slope = data["rss_slope_mb_per_min"]
    data["checks"] = {
        "all_completed": data["calls"]["completed"] == args.calls,
        "no_audio_dropped": data["audio_dropped_s"] == 0,
        "rss_flat": slope is not None and abs(slope) <= args.max_slope,
        "fds_back": last.fds <= before[0],
        "threads_back": last.threads <= before[1],
    }
    data["pass"] = all(data["checks"].values())
    return {
        "machine": machine_info(),
        "command": "python -m bench.soak " + " ".join(sys.argv[1:]),
        "settings": {
            "engine": args.engine,
            "model": None if args.engine == "null" else args.model,
            "calls": args.calls,
            "channels": 2 * args.calls,
            "minutes": args.minutes,
            "speed": speed,
            "driver": args.driver,
            "frame_ms": args.frame_ms,
            "ramp_s": args.ramp,
            "interval_s": args.interval,
            "baseline_s": args.baseline,
            "warmup_s": round(warmup, 1),
            "after_s": args.after,
            "max_slope_mb_per_min": args.max_slope,
            "server_cpu": server_cpu,
            "client_cpu": None if args.no_pin else args.client_cpu,
        },
        "calibration": calibration,
        "marks_s": soak.marks,
        "full_collection_when_idle": collected,
        "server_exit": exit_code,
        "figures": data,
        "samples": samples_json(soak.samples),
    }


def summary(result: dict[str, Any]) -> str:
    """The short text report printed at the end."""
    s, f = result["settings"], result["figures"]
    lines = [
        f"{s['calls']} call(s) x {s['minutes']:g} min, engine {s['engine']}"
        + (f" ({s['model']})" if s["model"] else "") + f", speed {s['speed']:g}: "
        f"{f['calls']['completed']}/{s['calls']} completed, {f['calls']['finals']} finals, "
        f"audio dropped {f['audio_dropped_s']:g} s",
        f"RSS slope {f['rss_slope_mb_per_min']} MB/min over {f['steady_window_s']} s "
        f"({f['steady_samples']} samples; {f['rss_growth_over_steady_mb']} MB over the window)",
    ]
    header = f"{'':16}{'before':>10}{'during max':>12}{'after':>10}{'after-before':>14}"
    lines.append(header)
    for name in ("rss_mb", "fds", "threads", "tracked_objects"):
        spread = f[name]
        if spread["before"]["median"] is None:
            continue
        after = spread["after"]["max"] if spread["after"]["max"] is not None else "-"
        delta = f.get("after_minus_before", {}).get(name, "-")
        before = round(spread["before"]["median"], 2)
        lines.append(f"{name:16}{before!s:>10}{spread['during']['max']!s:>12}{after!s:>10}{delta!s:>14}")
    failed = [name for name, ok in f["checks"].items() if not ok]
    lines.append("pass" if f["pass"] else "FAIL: " + ", ".join(failed))
    return "\n".join(lines)


def _speed(text: str) -> float | str:
    if text == "auto":
        return text
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be > 0 (or auto)")
    return value


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", default="null", help="null (protocol path) or an engine name, e.g. local")
    p.add_argument("--model", default="base", help="LOCAL_MODEL when the engine is not null")
    p.add_argument("--calls", type=int, default=20, help="concurrent stereo calls (2 channels each)")
    p.add_argument("--minutes", type=float, default=1.0, help="audio per call, minutes of stream time")
    p.add_argument("--speed", type=_speed, default=1.0,
                   help="stream at this many times real time; auto: calibrate (engine runs, simulator driver)")
    p.add_argument("--calibrate-speeds", default="8,6,4,3,2", help="speeds --speed auto tries, fastest first")
    p.add_argument("--calibrate-seconds", type=float, default=90.0, help="audio per calibration call")
    p.add_argument("--calibrate-margin", type=float, default=0.75,
                   help="--speed auto streams at the fastest speed that kept up times this")
    p.add_argument("--driver", choices=("light", "simulator"),
                   help="light (real time, a tone; default for null) or simulator (default for engines)")
    p.add_argument("--frame-ms", type=int, default=200, help="frame size (Genesys sends 200 ms)")
    p.add_argument("--ramp", type=float, default=10.0, help="calls start evenly over this many seconds")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    p.add_argument("--baseline", type=float, default=30.0, help="idle seconds sampled before the calls")
    p.add_argument("--warmup", type=float, help="seconds after the last call started left out of the slope "
                   "(default: a quarter of a call's wall time, at most 120)")
    p.add_argument("--after", type=float, default=60.0, help="idle seconds sampled once no session is left")
    p.add_argument("--drain-timeout", type=float, default=600.0, help="longest wait for the sessions to end")
    p.add_argument("--max-slope", type=float, default=0.2, help="|RSS slope| that passes, MB per minute")
    p.add_argument("--gc-route", action="store_true",
                   help="serve /debug/gc: count gc-tracked objects per sample, one full collection once idle "
                   "(diagnosis only: the reads disturb the server's memory)")
    add_server_options(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the full report (with every sample) here")
    p.add_argument("--server-log", help="append the server's log here (default: discarded)")
    args = p.parse_args(argv)
    if args.driver is None:
        args.driver = "light" if args.engine == "null" and args.speed in (1.0, "auto") else "simulator"
    if args.driver == "light" and args.speed not in (1.0, "auto"):
        p.error("the light driver streams at real time only: use --driver simulator with --speed")
    if args.calls < 1 or args.minutes <= 0 or args.interval <= 0:
        p.error("--calls, --minutes and --interval must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    result = run_benchmark(_arguments(argv), _run)
    print(summary(result), flush=True)
    return 0 if result["figures"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
