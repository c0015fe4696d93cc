"""Engine-level benchmark of the embedded ``local`` engine: N channels of espeak speech at once.

Each channel streams its own sequence of sentences (µ-law round-tripped, 20 ms frames, paced
at real time unless ``--fast``), separated by 0.8–2 s of silence, into its own recognizer; all
recognizers share one model and one CapacityLimiter, as in the server. Reported:

* CPU-s per audio-s: process CPU time (all threads) / audio seconds fed, over the whole run;
* end-of-speech → final latency (docs/measuring.md, engine level): from when the frame holding
  an utterance's last speech sample was handed to the recognizer to when its final came out;
  p50/p95 over all utterances (real-time pacing only);
* WER over all utterances (normalised as connector/testing/speech.py does), with the reference word count;
* partials per utterance.

    python bench/engine_local.py --model tiny.en --channels 4 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.asr.base import AudioChunk, Hypothesis, Recognizer, RecognizerInput, RecognizerSpec
from connector.asr.local import create_engine
from connector.testing.speech import silence, synthesize, ulaw_roundtrip, word_error_rate
from connector.vocabulary import SAMPLE_RATE

RATE = SAMPLE_RATE
SENTENCES = [
    "hello i would like to check the balance on my account",
    "my account number is four seven two nine one",
    "i have been waiting for over an hour and nobody has called me back",
    "can you transfer me to the billing department please",
    "the package was supposed to arrive on monday but it never came",
    "i would like to cancel my subscription",
    "yes that is correct",
    "could you please repeat that",
    "thank you very much for your help today",
    "my phone number is five five five one two three four",
    "i need to change the address on my account",
    "the internet connection keeps dropping every evening",
    "is there anything else i can help you with",
    "no that is all thank you",
    "i was charged twice for the same order",
    "please send me a confirmation email",
]


@dataclass
class Utterance:
    text: str
    start: int  # sample index of the first speech sample
    end: int  # sample index just after the last speech sample


@dataclass
class Channel:
    audio: np.ndarray
    utterances: list[Utterance]
    frame_sent_at: list[float] = field(default_factory=list)
    results: list[tuple[float, Hypothesis]] = field(default_factory=list)


def build_channel(rng: random.Random, seconds: float, voice: str) -> Channel:
    parts = [silence(rng.uniform(0.2, 1.0))]
    pos = parts[0].shape[0]
    utterances: list[Utterance] = []
    while pos < seconds * RATE:
        text = rng.choice(SENTENCES)
        pcm = synthesize(text, voice=voice, rate=rng.choice([150, 165, 175]))
        utterances.append(Utterance(text, pos, pos + pcm.shape[0]))
        gap = silence(rng.uniform(0.8, 2.0))
        parts += [pcm, gap]
        pos += pcm.shape[0] + gap.shape[0]
    return Channel(ulaw_roundtrip(np.concatenate(parts)), utterances)


async def stream(
    pcm: np.ndarray,
    recognizer: Recognizer,
    frame: int,
    fast: bool,
    sent_at: list[float],
    results: list[tuple[float, Hypothesis]],
) -> None:
    """Feed ``pcm`` in frames (at real time unless ``fast``) as a session does; log when each frame
    was handed over (``sent_at``) and when each hypothesis came out (``results``)."""
    audio_tx, audio_rx = trio.open_memory_channel[RecognizerInput](1000)
    results_tx, results_rx = trio.open_memory_channel[Hypothesis](1000)

    async def run() -> None:
        async with results_tx:
            await recognizer.run(audio_rx, results_tx)

    async def collect() -> None:
        async for hyp in results_rx:
            results.append((time.perf_counter(), hyp))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        nursery.start_soon(collect)
        t0 = trio.current_time()
        async with audio_tx:
            for i, offset in enumerate(range(0, pcm.shape[0], frame)):
                if not fast:
                    await trio.sleep_until(t0 + (i + 1) * frame / RATE)
                await audio_tx.send(AudioChunk(pcm[offset : offset + frame]))
                sent_at.append(time.perf_counter())


def score(channels: list[Channel], frame: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0.0
    ref_words = 0
    partials = 0
    for ch in channels:
        finals = [(t, h) for t, h in ch.results if h.is_final and h.text]
        partials += sum(1 for _, h in ch.results if not h.is_final)
        for utt in ch.utterances:
            mine = [
                (t, h)
                for t, h in finals
                if h.start < utt.end / RATE + 0.3 and h.start + h.duration > utt.start / RATE - 0.3
            ]
            hyp_text = " ".join(h.text for _, h in mine)
            n = len(utt.text.split())
            errors += word_error_rate(utt.text, hyp_text) * n
            ref_words += n
            last_frame = min(len(ch.frame_sent_at) - 1, (utt.end - 1) // frame)
            if mine:
                latencies.append(mine[-1][0] - ch.frame_sent_at[last_frame])
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "utterances": float(sum(len(ch.utterances) for ch in channels)),
        "finalised": float(len(latencies)),
        "wer": errors / max(1, ref_words),
        "ref_words": float(ref_words),
        "latency_p50": float(np.percentile(lat, 50)),
        "latency_p95": float(np.percentile(lat, 95)),
        "partials_per_utt": partials / max(1, sum(len(ch.utterances) for ch in channels)),
    }


async def main(args: argparse.Namespace) -> None:
    env = dict(os.environ)
    env["LOCAL_MODEL"] = args.model
    env["LOCAL_PARTIAL_INTERVAL"] = str(args.partial_interval)
    env["CONNECTOR_SEND_PARTIALS"] = "true"
    if args.final_pad is not None:
        env["LOCAL_FINAL_PAD"] = str(args.final_pad)
    engine = create_engine(env)
    t = time.perf_counter()
    await engine.start()
    print(f"model {args.model} loaded in {time.perf_counter() - t:.2f} s", file=sys.stderr)
    rng = random.Random(args.seed)
    channels = [build_channel(rng, args.seconds, args.voice) for _ in range(args.channels)]
    audio_seconds = sum(ch.audio.shape[0] for ch in channels) / RATE
    limiter = trio.CapacityLimiter(args.limiter or engine.settings.threads)
    frame = round(args.frame_ms * RATE / 1000)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with trio.open_nursery() as nursery:
        for index, ch in enumerate(channels):
            recognizer = engine.create(RecognizerSpec(channel=index, language="en-US"), limiter)
            nursery.start_soon(stream, ch.audio, recognizer, frame, args.fast, ch.frame_sent_at, ch.results)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stats = score(channels, frame)
    print(
        f"model={args.model} channels={args.channels} audio={audio_seconds:.0f}s "
        f"partial_interval={args.partial_interval} threads={engine.settings.threads} "
        f"limiter={limiter.total_tokens} frame={args.frame_ms}ms {'fast' if args.fast else 'realtime'}"
    )
    print(f"  cpu_per_audio_s={cpu / audio_seconds:.4f}  wall={wall:.1f}s  cpu={cpu:.1f}s")
    print(
        f"  WER={stats['wer']:.3f} (ref words {stats['ref_words']:.0f}, utterances "
        f"{stats['finalised']:.0f}/{stats['utterances']:.0f} finalised)  "
        f"partials/utt={stats['partials_per_utt']:.2f}"
    )
    if not args.fast:
        print(
            f"  end_of_speech_to_final p50={stats['latency_p50']:.3f}s p95={stats['latency_p95']:.3f}s"
        )
    if args.verbose:
        for ch in channels[:1]:
            for _, h in ch.results:
                if h.is_final:
                    print(f"    [{h.utterance}] {h.start:7.2f} {h.text}")
    await engine.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny.en", help="base | tiny.en | a CTranslate2 Whisper directory")
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per channel")
    parser.add_argument("--partial-interval", type=float, default=1.0, help="0 = partials off")
    parser.add_argument("--final-pad", type=float, default=None, help="override LOCAL_FINAL_PAD")
    parser.add_argument("--limiter", type=int, default=0, help="CapacityLimiter tokens (default LOCAL_THREADS)")
    parser.add_argument("--frame-ms", type=int, default=20)
    parser.add_argument("--voice", default="en-us")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fast", action="store_true", help="feed as fast as possible (CPU and WER only)")
    parser.add_argument("--verbose", action="store_true")
    trio.run(main, parser.parse_args())
