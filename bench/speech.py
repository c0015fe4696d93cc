"""Server-level speech benchmark: real-time channels per core for an engine, end to end.

    python -m bench.speech --model tiny.en --channels 16,24,32 --json tiny.json

For each step (a number of channels; a stereo call is two) it starts the real server
(``bench.server``, pinned with ``taskset`` to ``--server-cpu``, engine ``local`` by default)
and places ``channels / 2`` concurrent stereo calls with the AudioHook simulator, each
streaming at real time a conversation of espeak-ng speech (``connector/testing/speech.py``): customer
(external) and agent (internal) take turns, each turn one sentence placed at a known offset,
different sentences on the two channels and from call to call. Because the audio is made
here, the benchmark knows where every utterance's last speech sample is, so it measures what
docs/measuring.md defines:

* **end-of-speech → final latency**: from when the client *sent* the frame holding an
  utterance's last sample (:meth:`CallResult.sent_at`) to when it *received* the last final
  that belongs to it (finals matched to utterances by their offsets), p50/p95 over all
  utterances; it contains the engine's end-of-speech silence (``LOCAL_END_SILENCE``);
* **first-partial latency** (``--partials on``): from the frame holding an utterance's first
  speech sample to the first partial for it;
* **real time**: audio the clients sent that the server had not taken in (``/metrics``
  ``connector_audio_received_seconds_total`` against the clients' frame log) stays under
  250 ms per call, and the engine dropped no audio (``connector_audio_dropped_seconds_total``);
* server CPU (``/proc``) over the window in which every call streams, per channel, and
  RSS per call ((RSS with N calls − RSS idle after model load and a warm-up call) / N);
* WER per channel (finals in offset order against the sentences spoken), normalised as
  ``connector/testing/speech.py`` does, with the reference word count.

A step **passes** when every call completed cleanly, the audio was consumed at real time and
final p95 < 1 s; the largest passing step is the engine's real-time channels per core.

The calls' audio is made in ``bench/conversation.py`` and each call is scored in
``bench/speech_score.py``; this module runs the steps and reports them.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import IO, Any

import numpy as np
import trio

from bench.conversation import Conversation, Utterance, build_conversation
from bench.load_report import machine_info
from bench.load_server import BENCH_KEY, BENCH_SECRET, ServerProcess, add_server_options, bench_server_env
from bench.probe import Metrics, ProcSample, cpu_busy_seconds, sample_process, scrape
from bench.runner import run_benchmark
from bench.speech_score import Score, score
from connector.simulator import CallConfig, CallResult, run_call
from connector.testing.speech import RATE

__all__ = ["Conversation", "Utterance", "build_conversation", "main", "score"]

FINAL_P95_LIMIT = 1.0
BACKLOG_LIMIT = 0.25


def _ms(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)) * 1000, 1) if len(values) else None


def _backlog(results: Sequence[CallResult], snaps: Sequence[tuple[Metrics, ProcSample]], base: float,
             calls: int) -> list[float]:
    """Per scrape: seconds of audio per call the clients had sent that the server had not taken in."""
    times = np.concatenate([np.asarray(r.frame_times) for r in results])
    sizes = np.concatenate([(np.asarray(r.frame_ends) - np.asarray(r.frame_starts)) / RATE for r in results])
    order = np.argsort(times)
    times, cumulative = times[order], np.cumsum(sizes[order])
    out = []
    for metrics, _ in snaps:
        i = int(np.searchsorted(times, metrics.at, side="right"))
        sent = float(cumulative[i - 1]) if i else 0.0
        out.append((sent - (metrics.value("connector_audio_received_seconds_total") - base)) / calls)
    return out


async def run_step(args: argparse.Namespace, channels: int, partials: bool, log: IO[bytes] | None) -> dict[str, Any]:
    """One step: a fresh server with the model loaded, a warm-up call, N/2 calls, measurements."""
    calls = channels // 2
    rng = random.Random(args.seed)
    conversations = [build_conversation(rng, args.seconds) for _ in range(calls)]
    env = bench_server_env(args.engine, {"LOCAL_MODEL": args.model}, extra=args.server_env)
    server_cpu = None if args.no_pin else args.server_cpu
    server = await ServerProcess.start(env, server_cpu, log)
    try:
        url = f"ws://127.0.0.1:{server.port}/audiohook"
        custom = {"partialResults": True} if partials else None
        base = CallConfig(url=url, api_key=BENCH_KEY, client_secret=BENCH_SECRET, frame_ms=args.frame_ms,
                          custom_config=custom)
        warm = build_conversation(random.Random(-1), 6.0)
        with trio.fail_after(120):
            await run_call(CallConfig(url=url, api_key=BENCH_KEY, client_secret=BENCH_SECRET, speed=0), warm.source)
            before = await scrape(server.port, within=30)
        idle = sample_process(server.pid)
        ramp = min(args.ramp, args.seconds / 4)
        results: list[CallResult | None] = [None] * calls
        snaps: list[tuple[Metrics, ProcSample]] = []
        busy: list[dict[int, float]] = []
        start = trio.current_time()

        async def call(index: int) -> None:
            await trio.sleep_until(start + index * ramp / max(1, calls))
            config = replace(base, session_id=str(uuid.uuid4()), correlation_id=str(uuid.uuid4()),
                             conversation_id=str(uuid.uuid4()), participant_id=str(uuid.uuid4()))
            results[index] = await run_call(config, conversations[index].source)

        async def watch() -> None:
            at, end = start + ramp + 2.0, start + args.seconds - 1.0
            while at <= end:
                await trio.sleep_until(at)
                snaps.append((await scrape(server.port, within=10), sample_process(server.pid)))
                busy.append(cpu_busy_seconds())
                at += args.checkpoint

        with trio.fail_after(args.seconds + ramp + 120):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                for i in range(calls):
                    nursery.start_soon(call, i)
            with trio.fail_after(30):
                after = await scrape(server.port, within=30)
    finally:
        with trio.CancelScope(shield=True):
            exit_code = await server.stop()
    done = [r for r in results if r is not None]
    total = Score()
    for result, conversation in zip(done, conversations, strict=True):
        score(result, conversation, total)
    p0, p1 = snaps[0][1], snaps[-1][1]
    seconds = max(1e-9, p1.at - p0.at)
    cpu = (p1.cpu_seconds - p0.cpu_seconds) / seconds
    backlog = _backlog(done, snaps, before.value("connector_audio_received_seconds_total"), calls)
    other = None
    if server_cpu is not None and len(busy) >= 2:
        other = round(max(0.0, (busy[-1][server_cpu] - busy[0][server_cpu]) / seconds - cpu) * 100, 1)
    dropped_name = "connector_audio_dropped_seconds_total"
    dropped = after.value(dropped_name) - before.value(dropped_name)
    p95 = _ms(total.final_latencies, 95)
    data: dict[str, Any] = {
        "model": args.model,
        "channels": channels,
        "calls": calls,
        "partials": partials,
        "frame_ms": args.frame_ms,
        "completed": sum(r.ok for r in done),
        "failures": sorted({r.error or "; ".join([e.message for e in r.protocol_errors] + r.timeouts)
                            or f"disconnect {r.disconnect_reason}" for r in done if not r.ok})[:5],
        "utterances": total.utterances,
        "missed_utterances": total.missed,
        "unmatched_finals": total.unmatched_finals,
        "final_latency_ms": {"p50": _ms(total.final_latencies, 50), "p95": p95,
                             "max": _ms(total.final_latencies, 100)},
        "first_partial_latency_ms": {"p50": _ms(total.partial_latencies, 50), "p95": _ms(total.partial_latencies, 95),
                                     "count": len(total.partial_latencies)},
        "partials_received": total.partials,
        "wer": round(total.word_errors / max(1, total.reference_words), 3),
        "reference_words": total.reference_words,
        "window_seconds": round(seconds, 1),
        "server_cpu_percent": round(cpu * 100, 1),
        "cpu_percent_per_channel": round(cpu * 100 / channels, 2),
        "idle_rss_mb": round(idle.rss_bytes / 2**20, 1),
        "rss_mb": round(p1.rss_bytes / 2**20, 1),
        "rss_mb_per_call": round((p1.rss_bytes - idle.rss_bytes) / calls / 2**20, 2),
        "threads": max(p.threads for _, p in snaps),
        "backlog_s_per_call_max": round(max(backlog), 3),
        "audio_dropped_s": dropped,
        "other_load_percent_server_core": other,
        "server_exit": exit_code,
    }
    data["checks"] = {
        "all_completed": data["completed"] == calls,
        "real_time": max(backlog) < BACKLOG_LIMIT and dropped == 0,
        "final_p95_under_1s": p95 is not None and p95 < FINAL_P95_LIMIT * 1000,
    }
    data["pass"] = all(data["checks"].values())
    return data


_COLUMNS = (
    ("channels", lambda d: d["channels"]),
    ("ok", lambda d: f"{d['completed']}/{d['calls']}"),
    ("final p50/p95 ms", lambda d: f"{d['final_latency_ms']['p50']}/{d['final_latency_ms']['p95']}"),
    ("1st partial p50/p95 ms",
     lambda d: f"{d['first_partial_latency_ms']['p50']}/{d['first_partial_latency_ms']['p95']}"),
    ("cpu %", lambda d: d["server_cpu_percent"]),
    ("cpu %/ch", lambda d: d["cpu_percent_per_channel"]),
    ("MB/call", lambda d: d["rss_mb_per_call"]),
    ("WER (words)", lambda d: f"{d['wer']} ({d['reference_words']})"),
    ("missed", lambda d: f"{d['missed_utterances']}/{d['utterances']}"),
    ("backlog s", lambda d: d["backlog_s_per_call_max"]),
    ("other %", lambda d: d["other_load_percent_server_core"]),
    ("pass", lambda d: "yes" if d["pass"] else "NO"),
)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.speech", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tiny.en", help="LOCAL_MODEL for the server")
    p.add_argument("--engine", default="local")
    p.add_argument("--channels", default="8,16,24", help="comma-separated steps (even: stereo calls)")
    p.add_argument("--partials", choices=("off", "on"), default="off",
                   help="on: calls set customConfig.partialResults=true (the product default is off)")
    p.add_argument("--seconds", type=float, default=60.0, help="audio per call")
    p.add_argument("--ramp", type=float, default=5.0, help="calls start spread over this many seconds")
    p.add_argument("--frame-ms", type=int, default=200, help="frame size (Genesys sends 200 ms)")
    p.add_argument("--checkpoint", type=float, default=5.0)
    add_server_options(p)
    p.add_argument("--stop-after-fail", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the full report here")
    p.add_argument("--server-log", help="append the server's log here")
    args = p.parse_args(argv)
    if any(int(c) % 2 for c in args.channels.split(",")):
        p.error("--channels must be even (stereo calls)")
    return args


async def _run(args: argparse.Namespace, log: IO[bytes] | None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    print(" | ".join(name for name, _ in _COLUMNS), flush=True)
    for channels in (int(c) for c in args.channels.split(",")):
        data = await run_step(args, channels, args.partials == "on", log)
        steps.append(data)
        print(" | ".join(str(f(data)) for _, f in _COLUMNS), flush=True)
        if args.stop_after_fail and not data["pass"]:
            break
    passing = [d["channels"] for d in steps if d["pass"]]
    return {
        "machine": machine_info(),
        "command": "python -m bench.speech " + " ".join(sys.argv[1:]),
        "steps": steps,
        "real_time_channels": max(passing) if passing else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    result = run_benchmark(_arguments(argv), _run)
    print(f"real-time channels per core: {result['real_time_channels']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
