"""Phrase actions, measured through the server with speech: phrase spoken → ``phrase.detected`` received.

``python -m bench.webhooks --phrase``: the real server (``bench.server``, pinned like every
benchmark's) with the local engine, partials on (``CONNECTOR_SEND_PARTIALS=true``), a SQLite store,
a rule ``cancel my account`` with ``onPartials``, and a subscription to ``phrase.detected`` at the
receiver in this process (:mod:`bench.webhook_receiver`). ``--calls`` stereo calls stream at real
time (``connector.simulator``, ``--frame-ms`` frames); on channel 0 each caller says ``--phrases``
sentences containing the phrase, ``--spacing`` seconds apart, the agent answers briefly on channel 1.

The sentences are spoken in three espeak-ng pieces (words before, the phrase, words after), so the
phrase's last sample is known exactly. The simulator sends each frame when its last sample "was
captured" (anchored to the stream's start), so the call's sample ``s`` is spoken at ``t0 + s/8000``
with ``t0`` the earliest ``frame sent − frame end / 8000`` of the call; the phrase ends at
``t0 + end/8000``, and its latency is the receiver's arrival − that instant (one process, one clock).
That includes the rest of the frame holding the phrase's end (up to ``--frame-ms``), the engine's
partial cadence (``LOCAL_PARTIAL_INTERVAL``, 1 s) and decode, rule matching, the outbox and the POST.

Detections are matched to occurrences by conversation and by their ``offset`` on the stream (the
phrase's first word for a final, the utterance's start for a partial, which has no word times): the
occurrence whose sentence spans it. Each says whether it came from a partial or a final
(``data.isFinal``); a second detection of one occurrence (the engine cut the sentence into two
utterances) counts as a repeat, not as a latency. A partial can name the phrase before its last
sample was spoken (Whisper completes "cancel my acc…" to "account"): such a latency is negative,
kept as measured, and counted in ``early``.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import trio

from bench.load_server import BENCH_KEY, BENCH_SECRET, ServerProcess, bench_server_env
from bench.probe import cpu_busy_seconds, histogram_quantile, sample_process
from bench.webhook_receiver import Arrival, Receiver
from bench.webhooks import latency_ms, webhook_metrics
from connector.simulator import AudioSource, CallConfig, CallResult, run_call
from connector.testing.speech import RATE, silence, synthesize

__all__ = ["PHRASE", "Occurrence", "PhraseCall", "build_call", "match", "run_phrases", "summary_line"]

PHRASE = "cancel my account"
RULE = {"id": "cancel", "name": "cancel", "phrases": [PHRASE], "onPartials": True}
AROUND = (  # (before, after): the phrase at the start, in the middle and at the end of a sentence
    ("i would like to", "please"),
    ("hello i want to", "today"),
    ("can you help me", "right now"),
    ("i am calling to", "because it is too expensive"),
    ("please", ""),
    ("i need to", "and get a refund"),
)
AGENT = ("i see", "one moment please", "let me check that for you", "okay", "i understand")
GAP = 0.08
"""Seconds between the pieces of a sentence: a word gap."""
LEAD, TAIL = 1.0, 3.0
SLACK = 1.0
"""Seconds a detection's offset may lie outside its sentence (pre-roll, word-time error)."""
P50_LIMIT = 1.0


@dataclass(frozen=True)
class Occurrence:
    index: int
    sentence: str
    said: int
    """Sample of the sentence's first speech sample."""
    start: int
    """Sample of the phrase's first speech sample."""
    end: int
    """Sample just after the phrase's last speech sample."""


@dataclass
class PhraseCall:
    source: AudioSource
    occurrences: list[Occurrence]


def _place(track: list[npt.NDArray[np.int16]], length: int, at: int, pcm: npt.NDArray[np.int16]) -> int:
    track += [silence((at - length) / RATE), pcm]
    return at + len(pcm)


def build_call(rng: random.Random, call: int, phrases: int, spacing: float) -> PhraseCall:
    """Channel 0: ``phrases`` sentences holding the phrase, one every ``spacing`` s; channel 1: short answers."""
    rate = rng.choice((150, 165, 175))
    gap = silence(GAP)
    customer: list[npt.NDArray[np.int16]] = []
    agent: list[npt.NDArray[np.int16]] = []
    length = [0, 0]
    occurrences = []
    for i in range(phrases):
        before, after = AROUND[(call + i) % len(AROUND)]
        pieces = [synthesize(text, rate=rate) for text in (before, PHRASE, after) if text]
        start = round((LEAD + i * spacing) * RATE)
        phrase_at = start + (len(pieces[0]) + len(gap) if before else 0)
        sentence = np.concatenate([part for piece in pieces for part in (piece, gap)][:-1])
        length[0] = _place(customer, length[0], start, sentence)
        phrase_pcm = pieces[1] if before else pieces[0]
        occurrences.append(
            Occurrence(
                i, " ".join(t for t in (before, PHRASE, after) if t), start, phrase_at, phrase_at + len(phrase_pcm)
            )
        )
        answer = synthesize(AGENT[(call + i) % len(AGENT)], voice="en-gb", rate=rate)
        answer_at = length[0] + round(0.6 * RATE)
        if answer_at + len(answer) < round((LEAD + (i + 1) * spacing - 0.4) * RATE):
            length[1] = _place(agent, length[1], answer_at, answer)
    total = round((LEAD + phrases * spacing + TAIL) * RATE)
    tracks = []
    for parts, used in ((customer, length[0]), (agent, length[1])):
        tracks.append(np.concatenate([*parts, silence((total - used) / RATE)])[:total])
    return PhraseCall(AudioSource.from_pcm(tracks[0], tracks[1], name=f"phrase-{call}"), occurrences)


def stream_start(result: CallResult) -> float:
    """``t0``: when the call's sample 0 was spoken (trio clock), from the frames' send times."""
    return min(t - end / RATE for t, end in zip(result.frame_times, result.frame_ends, strict=True))


def _occurrence(occurrences: Sequence[Occurrence], offset: float) -> Occurrence | None:
    """The occurrence a detection at stream ``offset`` belongs to: its sentence spans the offset (±
    ``SLACK``). A partial carries no word times, so its offset is its utterance's start (the sentence's,
    less the engine's pre-roll); a final's is the phrase's first word."""
    for occurrence in occurrences:
        if occurrence.said / RATE - SLACK <= offset <= occurrence.end / RATE + SLACK:
            return occurrence
    return None


def match(
    calls: Sequence[PhraseCall], results: Sequence[CallResult | None], arrivals: Sequence[Arrival]
) -> dict[str, Any]:
    """Each detection to its occurrence (see the module docstring); latencies, partial or final."""
    by_conversation = {r.conversation_id: (i, r) for i, r in enumerate(results) if r is not None}
    first: dict[tuple[int, int], dict[str, Any]] = {}
    latencies: dict[tuple[int, int], tuple[float, float | None]] = {}
    repeats = unmatched = 0
    for arrival in arrivals:
        event = arrival.event()
        data = event["data"]
        if event["type"] != "phrase.detected" or data["conversationId"] not in by_conversation:
            continue  # the warm-up call's
        call, result = by_conversation[data["conversationId"]]
        near = _occurrence(calls[call].occurrences, float(data["offset"]))
        if data["channel"] != 0 or near is None:
            unmatched += 1
            continue
        if (call, near.index) in first:
            repeats += 1
            continue
        ends = stream_start(result) + near.end / RATE
        frame = result.sent_at((near.end - 1) / RATE)
        latencies[(call, near.index)] = (arrival.at - ends, None if frame is None else arrival.at - frame)
        first[(call, near.index)] = {
            "call": call,
            "index": near.index,
            "sentence": near.sentence,
            "isFinal": bool(data["isFinal"]),
            "text": data["text"],
            "latency_ms": round((arrival.at - ends) * 1000, 1),
        }
    keys = sorted(first)
    partial = [latencies[k][0] for k in keys if not first[k]["isFinal"]]
    final = [latencies[k][0] for k in keys if first[k]["isFinal"]]
    after_frame = [a for k in keys if (a := latencies[k][1]) is not None]
    missed = [
        {"call": c, "index": o.index, "sentence": o.sentence}
        for c, pc in enumerate(calls)
        for o in pc.occurrences
        if (c, o.index) not in first
    ]
    quantiles = (50, 90)
    return {
        "occurrences": sum(len(c.occurrences) for c in calls),
        "detected": len(keys),
        "from_partial": len(partial),
        "from_final": len(final),
        "latency_ms": latency_ms(partial + final, quantiles),
        "latency_ms_partial": latency_ms(partial, quantiles),
        "latency_ms_final": latency_ms(final, quantiles),
        "after_frame_ms": latency_ms(after_frame, quantiles),
        "early": sum(lat < 0 for lat in partial + final),
        "repeat_detections": repeats,
        "unmatched_detections": unmatched,
        "missed": missed,
        "detections": [first[k] for k in keys],
    }


async def _quiet(receiver: Receiver, for_s: float, within: float) -> None:
    """Until no request arrived for ``for_s`` seconds (the last finals' detections), at most ``within``."""
    with trio.move_on_after(within):
        while True:
            seen = len(receiver.arrivals)
            await trio.sleep(for_s)
            if len(receiver.arrivals) == seen:
                return


def _server_env(args: argparse.Namespace, receiver: Receiver, workdir: Path) -> dict[str, str]:
    subscription = {"id": "bench-phrases", "url": receiver.url, "events": ["phrase.detected"]}
    return bench_server_env(
        "local",
        {
            "LOCAL_MODEL": args.model,
            "CONNECTOR_SEND_PARTIALS": "true",
            "CONNECTOR_API_ENABLED": "false",
            "CONNECTOR_STORE_URL": f"sqlite:///{workdir / 'phrases.db'}",
            "CONNECTOR_WEBHOOKS": json.dumps([subscription]),
            "CONNECTOR_PHRASE_RULES": json.dumps([RULE]),
        },
        extra=args.server_env,
    )


async def run_phrases(args: argparse.Namespace, log: IO[bytes] | None) -> dict[str, Any]:
    """The phrase benchmark: a fresh server, a warm-up call, ``--calls`` calls, the matched detections."""
    rng = random.Random(args.seed)
    calls = [build_call(rng, c, args.phrases, args.spacing) for c in range(args.calls)]
    receiver = Receiver()
    server_cpu = None if args.no_pin else args.server_cpu
    with tempfile.TemporaryDirectory(prefix="bench-phrases-") as workdir:
        async with trio.open_nursery() as nursery:
            await nursery.start(receiver.serve)
            server = await ServerProcess.start(_server_env(args, receiver, Path(workdir)), server_cpu, log)
            try:
                url = f"ws://127.0.0.1:{server.port}/audiohook"
                base = CallConfig(url=url, api_key=BENCH_KEY, client_secret=BENCH_SECRET)
                warm = build_call(random.Random(-1), 0, 1, 4.0)
                with trio.fail_after(120):  # the first decodes are slow (model warm-up)
                    await run_call(replace(base, speed=0), warm.source)
                    await _quiet(receiver, 1.0, 10.0)
                before, idle, busy0 = await server.scrape(None), sample_process(server.pid), cpu_busy_seconds()
                results: list[CallResult | None] = [None] * len(calls)
                start = trio.current_time()

                async def call(index: int) -> None:
                    await trio.sleep_until(start + index * args.spacing / len(calls))
                    config = replace(
                        base, frame_ms=args.frame_ms, session_id=str(uuid.uuid4()), conversation_id=str(uuid.uuid4())
                    )
                    results[index] = await run_call(config, calls[index].source)

                seconds = LEAD + args.phrases * args.spacing + TAIL
                with trio.fail_after(seconds + args.spacing + 120):
                    async with trio.open_nursery() as callers:
                        for index in range(len(calls)):
                            callers.start_soon(call, index)
                    await _quiet(receiver, 2.0, 20.0)
                after, busy, busy1 = await server.scrape(None), sample_process(server.pid), cpu_busy_seconds()
            finally:
                with trio.CancelScope(shield=True):
                    exit_code = await server.stop()
            nursery.cancel_scope.cancel()
    done = [r for r in results if r is not None]
    figures = match(calls, results, receiver.arrivals)
    span = max(1e-9, busy.at - idle.at)
    cpu = (busy.cpu_seconds - idle.cpu_seconds) / span
    lag = "connector_event_loop_lag_seconds"
    p50 = figures["latency_ms"]["p50"]
    figures.update(
        {
            "calls": len(calls),
            "completed": sum(r.ok for r in done),
            "partials_received": sum(len([t for t in r.transcripts if not t.is_final]) for r in done),
            "webhooks": webhook_metrics(after, before),
            "loop_lag_ms": {
                q: None
                if (v := histogram_quantile(p, after.buckets(lag), before.buckets(lag))) is None
                else round(v * 1000, 2)
                for q, p in (("p50", 0.5), ("p99", 0.99))
            },
            "server_cpu_percent": round(cpu * 100, 1),
            "other_load_percent_server_core": None
            if server_cpu is None
            else round(max(0.0, (busy1[server_cpu] - busy0[server_cpu]) / span - cpu) * 100, 1),
            "server_exit": exit_code,
        }
    )
    figures["checks"] = {
        "all_completed": figures["completed"] == len(calls),
        "all_detected": not figures["missed"],
        "p50_under_1s": p50 is not None and p50 <= P50_LIMIT * 1000,
    }
    figures["pass"] = all(figures["checks"].values())
    return figures


def summary_line(figures: Mapping[str, Any]) -> str:
    lat, part, fin = figures["latency_ms"], figures["latency_ms_partial"], figures["latency_ms_final"]
    return (
        f"phrase → phrase.detected: {figures['detected']}/{figures['occurrences']} detected "
        f"({figures['from_partial']} from partials, {figures['from_final']} from finals); "
        f"p50/p90/max {lat['p50']}/{lat['p90']}/{lat['max']} ms (partials p50 {part['p50']}, finals p50 "
        f"{fin['p50']}); repeats {figures['repeat_detections']}, unmatched {figures['unmatched_detections']}; "
        f"server cpu {figures['server_cpu_percent']} %; pass: {'yes' if figures['pass'] else 'NO'}"
    )
