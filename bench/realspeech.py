"""The embedded engine on the real-speech regression set (``tests/realspeech/``), engine level.

    python -m bench.realspeech                       # defaults, every channel at once, real time
    python -m bench.realspeech --env LOCAL_END_SILENCE=0.5 --env LOCAL_PROMPT_TOKENS=0
    python -m bench.realspeech --fast                # accuracy only, as fast as the CPU goes

Every channel of the set streams at real time (20 ms frames, µ-law as recorded) into its own
recognizer; the recognizers share one model and one ``CapacityLimiter`` of ``LOCAL_THREADS``
tokens, as in the server. Reported, with the definitions of docs/measuring.md:

* **WER** over all channels (each channel's finals in order against its utterances' texts),
  split into substitutions, deletions and insertions, with the reference word count; fillers
  (``uh``, ``um``) are not counted (connector/testing/speech.py ``normalize_words``);
* **finals per utterance**: how many finals overlap each utterance in time (1 is right; 2+ is a
  split utterance) and how many finals hold words of two utterances or more (merged turns: a
  word starting within 0.1 s of each);
* **end of speech → final**: from handing over the frame that holds an utterance's last speech
  sample to receiving the last final that overlaps it, p50/p95/max (real time only);
* **first partial** (``--partials``): from the frame holding an utterance's first speech sample
  to the first partial overlapping it;
* **utterance-start error**: |the nearest word start − the utterance's first speech sample|, p50/p90
  (the set knows where each utterance starts, not each word; nearest, so that a merged or split
  utterance still measures word timing, not segmentation);
* CPU seconds per audio second (process, all threads).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trio

from bench.engine_local import stream
from connector.asr.base import Hypothesis, RecognizerSpec
from connector.asr.local import create_engine
from connector.testing.realspeech import Channel, Utterance, load_set
from connector.testing.speech import WordErrors, word_errors
from connector.vocabulary import SAMPLE_RATE

RATE = SAMPLE_RATE
SLACK = 0.3  # seconds around an utterance within which a final still overlaps it


@dataclass
class Run:
    channel: Channel
    sent_at: list[float] = field(default_factory=list)  # time each frame was handed over
    results: list[tuple[float, Hypothesis]] = field(default_factory=list)


def _overlaps(h: Hypothesis, start: float, end: float) -> bool:
    return h.start < end + SLACK and h.start + h.duration > start - SLACK


def _utterances_heard(h: Hypothesis, utterances: Sequence[Utterance]) -> set[int]:
    """The utterances a final has words of (word starts within 0.1 s of them); by overlap if it has no words."""
    if not h.words:
        return {i for i, u in enumerate(utterances) if _overlaps(h, u.start, u.end)}
    return {i for i, u in enumerate(utterances) for w in h.words if u.start - 0.1 <= w.start <= u.end + 0.1}


def _q(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def score(runs: list[Run], frame: int) -> dict[str, Any]:
    totals = WordErrors(0, 0, 0, 0)
    latencies: list[float] = []
    first_partials: list[float] = []
    start_errors: list[float] = []
    per_utterance: list[int] = []
    per_channel: dict[str, dict[str, float]] = {}
    merged = 0
    for run in runs:
        finals = [(t, h) for t, h in run.results if h.is_final and h.text.strip()]
        partials = [(t, h) for t, h in run.results if not h.is_final and h.text.strip()]
        utterances = run.channel.utterances
        errors = word_errors(" ".join(u.text for u in utterances), " ".join(h.text for _, h in finals))
        per_channel[run.channel.id] = {"wer": round(errors.rate, 4), "words": errors.reference_words,
                                       "deletions": errors.deletions}
        totals = WordErrors(
            totals.substitutions + errors.substitutions,
            totals.deletions + errors.deletions,
            totals.insertions + errors.insertions,
            totals.reference_words + errors.reference_words,
        )
        merged += sum(1 for _, h in finals if len(_utterances_heard(h, utterances)) > 1)
        for u in utterances:
            mine = [(t, h) for t, h in finals if _overlaps(h, u.start, u.end)]
            per_utterance.append(len(mine))
            last_frame = min(len(run.sent_at) - 1, int(u.end * RATE) // frame)
            if mine:
                latencies.append(max(t for t, _ in mine) - run.sent_at[last_frame])
                starts = [w.start for _, h in mine for w in h.words]
                if starts:
                    start_errors.append(min(abs(t - u.start) for t in starts))
            early = [t for t, h in partials if _overlaps(h, u.start, u.end)]
            if early:
                first_frame = min(len(run.sent_at) - 1, int(u.start * RATE) // frame)
                first_partials.append(min(early) - run.sent_at[first_frame])
    counts = np.bincount(per_utterance, minlength=3)
    return {
        "wer": round(totals.rate, 4),
        "reference_words": totals.reference_words,
        "substitutions": totals.substitutions,
        "deletions": totals.deletions,
        "insertions": totals.insertions,
        "channels": per_channel,
        "utterances": len(per_utterance),
        "utterances_by_finals": {"0": int(counts[0]), "1": int(counts[1]), "2+": int(counts[2:].sum())},
        "finals_over_two_utterances": merged,
        "final_latency_s": {"p50": _q(latencies, 50), "p95": _q(latencies, 95), "max": _q(latencies, 100)},
        "first_partial_s": {"p50": _q(first_partials, 50), "p95": _q(first_partials, 95)},
        "utterance_start_error_s": {"p50": _q(start_errors, 50), "p90": _q(start_errors, 90)},
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(dict(item.split("=", 1) for item in args.env))
    engine = create_engine(env)
    await engine.start()
    runs = [Run(channel) for channel in load_set(args.set_dir) if not args.channel or channel.id in args.channel]
    audio_seconds = sum(r.channel.seconds for r in runs)
    limiter = trio.CapacityLimiter(engine.settings.threads)
    frame = round(args.frame_ms * RATE / 1000)
    cpu0 = time.process_time()
    async with trio.open_nursery() as nursery:
        for index, run in enumerate(runs):
            spec = RecognizerSpec(channel=index, language="en-US", partials=args.partials)
            recognizer = engine.create(spec, limiter)
            nursery.start_soon(stream, run.channel.pcm, recognizer, frame, args.fast, run.sent_at, run.results)
    cpu = time.process_time() - cpu0
    report = score(runs, frame)
    report["cpu_per_audio_second"] = round(cpu / audio_seconds, 4)
    report["settings"] = {name: getattr(engine.settings, name) for name in engine.settings.__slots__}
    if args.verbose:
        for run in runs:
            print(f"== {run.channel.id}")
            for u in run.channel.utterances:
                print(f"   ref {u.start:6.2f}-{u.end:6.2f} {u.text}")
            for _, h in run.results:
                if h.is_final:
                    print(f"   hyp {h.start:6.2f}-{h.start + h.duration:6.2f} {h.text}")
    await engine.aclose()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.realspeech", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="engine setting")
    parser.add_argument("--frame-ms", type=int, default=20)
    parser.add_argument("--partials", action="store_true", help="compute and send partials")
    parser.add_argument("--fast", action="store_true", help="feed as fast as possible (accuracy only)")
    parser.add_argument("--channel", action="append", default=[], metavar="ID", help="only these channels")
    parser.add_argument("--set-dir", type=Path, default=None, help="the set's directory (default tests/realspeech)")
    parser.add_argument("--verbose", action="store_true", help="print every reference and final")
    import json

    print(json.dumps(trio.run(main, parser.parse_args()), indent=1))
    sys.exit(0)
