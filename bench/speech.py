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
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import trio

from bench.load import BENCH_KEY, BENCH_SECRET, ServerProcess, machine_info
from bench.probe import Metrics, ProcSample, cpu_busy_seconds, sample_process, scrape
from bench.runner import run_benchmark
from connector.simulator import AudioSource, CallConfig, CallResult, Transcript, run_call
from connector.testing.speech import RATE, normalize_words, silence, synthesize, word_error_rate

__all__ = ["Conversation", "Utterance", "build_conversation", "main", "score"]

FINAL_P95_LIMIT = 1.0
BACKLOG_LIMIT = 0.25
MATCH_SLACK = 0.5
"""Seconds around an utterance within which a transcript still counts as overlapping it."""

CUSTOMER = (
    "hello i would like to check the balance on my account",
    "my account number is four seven two nine one",
    "i have been waiting for over an hour and nobody has called me back",
    "the package was supposed to arrive on monday but it never came",
    "i would like to cancel my subscription",
    "yes that is correct",
    "my phone number is five five five one two three four",
    "i need to change the address on my account",
    "the internet connection keeps dropping every evening",
    "no that is all thank you",
    "i was charged twice for the same order",
    "please send me a confirmation email",
    "my name is john smith",
    "it started happening last tuesday after the update",
    "can i pay with a credit card",
    "the tracking number does not work on your website",
)
AGENT = (
    "thank you for calling how can i help you today",
    "can you transfer me to the billing department please",
    "could you please repeat that",
    "thank you very much for your help today",
    "is there anything else i can help you with",
    "let me look that up for you one moment please",
    "i can see the order here on my screen",
    "can you confirm the postcode for the account",
    "i have sent the refund it will take three to five days",
    "i am sorry for the trouble this has caused",
    "your reference number is eight one six",
    "would you like me to book an engineer visit",
    "i will put a note on your account",
    "the new plan starts on the first of next month",
    "have you tried restarting the router",
    "please stay on the line while i check",
)


@dataclass(frozen=True)
class Utterance:
    text: str
    start: int  # sample index of the first speech sample
    end: int  # sample index just after the last speech sample

    @property
    def start_s(self) -> float:
        return self.start / RATE

    @property
    def last_sample_s(self) -> float:
        return (self.end - 1) / RATE


@dataclass
class Conversation:
    """One call's audio and where each channel's utterances are (channel 0 external, 1 internal)."""

    source: AudioSource
    utterances: tuple[list[Utterance], list[Utterance]]


def build_conversation(rng: random.Random, seconds: float) -> Conversation:
    """Customer and agent take turns: one sentence each, the next starting 0-1.2 s after the last
    ended (or up to 0.2 s before: a slight overlap), each channel with its own shuffled
    sentences, voice and speaking rates."""
    lists = [list(CUSTOMER), list(AGENT)]
    for sentences in lists:
        rng.shuffle(sentences)
    voices = ("en-us", "en-gb")
    channels: list[list[npt.NDArray[np.int16]]] = [[], []]
    lengths = [0, 0]
    utterances: tuple[list[Utterance], list[Utterance]] = ([], [])
    t = round(rng.uniform(0.3, 2.0) * RATE)
    speaker = rng.randrange(2)
    limit = round((seconds - 2.0) * RATE)  # leave trailing silence so the last final comes on its own
    turn = 0
    while True:
        text = lists[speaker][(turn // 2) % len(lists[speaker])]
        pcm = synthesize(text, voice=voices[speaker], rate=rng.choice((150, 165, 175)))
        if t + len(pcm) > limit:
            break
        start = max(t, lengths[speaker])
        channels[speaker].append(silence((start - lengths[speaker]) / RATE))
        channels[speaker].append(pcm)
        lengths[speaker] = start + len(pcm)
        utterances[speaker].append(Utterance(text, start, start + len(pcm)))
        t = start + len(pcm) + round(rng.uniform(-0.2, 1.2) * RATE)
        speaker = 1 - speaker
        turn += 1
    total = round(seconds * RATE)
    for c in (0, 1):
        channels[c].append(silence((total - lengths[c]) / RATE))
    external, internal = (np.concatenate(parts)[:total] for parts in channels)
    return Conversation(AudioSource.from_pcm(external, internal, name="conversation"), utterances)


def _overlap(t: Transcript, u: Utterance) -> float:
    if t.offset is None:
        return 0.0
    end = t.offset + (t.duration or 0.0)
    return min(end, u.last_sample_s + MATCH_SLACK) - max(t.offset, u.start_s - MATCH_SLACK)


def _match(t: Transcript, utterances: Sequence[Utterance]) -> int | None:
    """The utterance a transcript overlaps most (None: it overlaps none, e.g. a hallucination)."""
    best, index = 0.0, None
    for i, u in enumerate(utterances):
        o = _overlap(t, u)
        if o > best:
            best, index = o, i
    return index


@dataclass
class Score:
    final_latencies: list[float] = field(default_factory=list)
    partial_latencies: list[float] = field(default_factory=list)
    utterances: int = 0
    missed: int = 0  # utterances with no final at all
    unmatched_finals: int = 0
    word_errors: int = 0
    reference_words: int = 0
    partials: int = 0


def score(result: CallResult, conversation: Conversation, into: Score) -> None:
    """Latencies and word errors of one call against what it said."""
    names = ("external", "internal")
    for channel, utterances in enumerate(conversation.utterances):
        mine = [t for t in result.transcripts if t.channel == names[channel] and t.text.strip()]
        finals = sorted((t for t in mine if t.is_final), key=lambda t: t.offset or 0.0)
        last_final: dict[int, float] = {}
        first_partial: dict[int, float] = {}
        for t in finals:
            i = _match(t, utterances)
            if i is None:
                into.unmatched_finals += 1
            else:
                last_final[i] = max(last_final.get(i, t.received_at), t.received_at)
        for t in mine:
            if not t.is_final:
                into.partials += 1
                i = _match(t, utterances)
                if i is not None:
                    first_partial[i] = min(first_partial.get(i, t.received_at), t.received_at)
        for i, u in enumerate(utterances):
            into.utterances += 1
            end_sent = result.sent_at(u.last_sample_s)
            if i not in last_final:
                into.missed += 1
            elif end_sent is not None:
                into.final_latencies.append(last_final[i] - end_sent)
            start_sent = result.sent_at(u.start_s)
            if i in first_partial and start_sent is not None:
                into.partial_latencies.append(first_partial[i] - start_sent)
        reference = " ".join(u.text for u in utterances)
        hypothesis = " ".join(t.text for t in finals)
        words = len(normalize_words(reference))
        into.word_errors += round(word_error_rate(reference, hypothesis) * words)
        into.reference_words += words


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
    env = {
        "CONNECTOR_HOST": "127.0.0.1",
        "CONNECTOR_PORT": "0",
        "CONNECTOR_API_KEYS": f"{BENCH_KEY}:{BENCH_SECRET}",
        "CONNECTOR_ENGINES": args.engine,
        "CONNECTOR_DEFAULT_ENGINE": args.engine,
        "CONNECTOR_METRICS": "true",
        "LOCAL_MODEL": args.model,
        **dict(item.split("=", 1) for item in args.server_env),
    }
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
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE")
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
