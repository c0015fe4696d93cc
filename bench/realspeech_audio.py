"""The audio side of the set: decode to 8 kHz, find where speech is, cut, join with pauses, write µ-law WAV.

The speech start/end rule (``speech_bounds``) and the pauses (``draw_gaps``) are what the
manifest's timings mean; ``NOTES`` in ``bench/realspeech_build.py`` states them in words.
"""

from __future__ import annotations

import math
import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.realspeech_archives import BuildError
from connector.audio import encode_ulaw
from connector.vocabulary import SAMPLE_RATE

__all__ = [
    "F32", "RATE", "Piece", "assemble", "cut", "decode_8k", "draw_gaps", "median_f0", "speech_bounds", "ulaw_wav",
]

RATE = SAMPLE_RATE
LEAD_S = 0.5
TAIL_S = 1.5
MARGIN_S = 0.10  # original background kept around each utterance's speech (faded), inside the pause
FADE_S = 0.01
FRAME = 80  # 10 ms at 8 kHz
REL_DB = 40.0  # speech frames: within 40 dB of the clip's loudest frame ...
FLOOR_DB = 12.0  # ... and 12 dB above its noise floor (10th percentile frame level)
MIN_RUN = 3  # a speech run is at least 3 consecutive frames (30 ms): clicks do not count
SPLIT_SEARCH_S = 0.6
SPLIT_WINDOW = 10  # frames averaged when looking for the quietest point near a split

F32 = npt.NDArray[np.float32]


def decode_8k(data: bytes, suffix: str) -> F32:
    """Any sox-readable recording → float32 mono 8 kHz (sox ``rate -v``: linear phase, anti-aliased)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in{suffix}"
        path.write_bytes(data)
        cmd = ["sox", "-V1", str(path), "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(RATE)]
        out = subprocess.run([*cmd, "-", "remix", "-", "rate", "-v"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float32)


def frame_db(x: F32) -> npt.NDArray[np.float64]:
    n = len(x) // FRAME
    frames = x[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    db: npt.NDArray[np.float64] = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return db


def speech_bounds(x: F32) -> tuple[int, int]:
    """(first, last + 1) sample of speech by the rule in NOTES."""
    db = frame_db(x)
    threshold = max(float(db.max()) - REL_DB, float(np.percentile(db, 10)) + FLOOR_DB)
    loud = db >= threshold
    runs = np.convolve(loud.astype(np.int32), np.ones(MIN_RUN, dtype=np.int32), mode="valid") == MIN_RUN
    starts = np.flatnonzero(runs)
    if len(starts) == 0:
        raise BuildError("no speech found")
    return int(starts[0]) * FRAME, (int(starts[-1]) + MIN_RUN) * FRAME


def quietest_near(x: F32, t: float) -> int:
    """Sample index at the centre of the quietest ~100 ms within ±0.6 s of ``t``."""
    db = frame_db(x)
    power = np.convolve(10 ** (db / 10), np.ones(SPLIT_WINDOW) / SPLIT_WINDOW, mode="same")
    centre = round(t * RATE / FRAME)
    lo = max(0, centre - round(SPLIT_SEARCH_S * 100))
    hi = min(len(power), centre + round(SPLIT_SEARCH_S * 100) + 1)
    return (lo + int(np.argmin(power[lo:hi]))) * FRAME + FRAME // 2


def cut(x: F32, segment: tuple[float, float] | None) -> F32:
    if segment is None:
        return x
    start = 0 if segment[0] <= 0 else quietest_near(x, segment[0])
    end = len(x) if segment[1] * RATE >= len(x) - FRAME else quietest_near(x, segment[1])
    return x[start:end]


def draw_gaps(count: int, rng: random.Random) -> list[float]:
    """Pauses between utterances: a quarter short (0.30-0.45 s), a quarter long (0.80-1.00 s), the rest between."""
    kinds = ["short", "long"] + [rng.choice(["short", "mid", "mid", "long"]) for _ in range(max(0, count - 2))]
    rng.shuffle(kinds)
    ranges = {"short": (0.30, 0.45), "mid": (0.45, 0.80), "long": (0.80, 1.00)}
    return [round(rng.uniform(*ranges[k]), 2) for k in kinds[:count]]


@dataclass
class Piece:
    audio: F32
    speech: tuple[int, int]


def assemble(pieces: list[Piece], gaps: list[float]) -> tuple[F32, list[tuple[int, int]]]:
    margin = round(MARGIN_S * RATE)
    fade = round(FADE_S * RATE)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, fade))).astype(np.float32)
    starts: list[int] = []
    pos = round(LEAD_S * RATE)
    for i, piece in enumerate(pieces):
        starts.append(pos)
        if i < len(gaps):
            pos += piece.speech[1] - piece.speech[0] + round(gaps[i] * RATE)
    last = pieces[-1]
    total = starts[-1] + (last.speech[1] - last.speech[0]) + round(TAIL_S * RATE)
    out = np.zeros(total, dtype=np.float32)
    spans: list[tuple[int, int]] = []
    for piece, at in zip(pieces, starts, strict=True):
        s, e = piece.speech
        a, b = max(0, s - margin), min(len(piece.audio), e + margin)
        chunk = piece.audio[a:b].copy()
        if s - a >= fade:
            chunk[:fade] *= ramp
        if b - e >= fade:
            chunk[-fade:] *= ramp[::-1]
        offset = at - (s - a)
        out[offset : offset + len(chunk)] += chunk
        spans.append((at, at + e - s))
    return out, spans


def ulaw_wav(pcm: npt.NDArray[np.int16]) -> bytes:
    """A RIFF/WAVE file: format tag 7 (G.711 µ-law), mono, 8 kHz, 8 bit, with the fact chunk."""
    data = encode_ulaw(pcm)
    fmt = (7).to_bytes(2, "little") + (1).to_bytes(2, "little") + RATE.to_bytes(4, "little")
    fmt += RATE.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + bytes(2)
    chunks = b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    chunks += b"fact" + (4).to_bytes(4, "little") + len(data).to_bytes(4, "little")
    chunks += b"data" + len(data).to_bytes(4, "little") + data + (b"\0" if len(data) & 1 else b"")
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def median_f0(x: F32, spans: list[tuple[int, int]]) -> float:
    """Rough median F0 of voiced 40 ms frames (autocorrelation, 60-400 Hz): reported, not used in the build."""
    f0s: list[float] = []
    win = 320
    for s, e in spans:
        for i in range(s, e - win, win // 2):
            frame = x[i : i + win].astype(np.float64)
            frame = frame - frame.mean()
            energy = float(np.dot(frame, frame))
            if energy < 1e-4:
                continue
            ac = np.correlate(frame, frame, mode="full")[win - 1 :]
            lo, hi = RATE // 400, RATE // 60
            lag = lo + int(np.argmax(ac[lo:hi]))
            if ac[lag] > 0.5 * ac[0]:
                f0s.append(RATE / lag)
    return float(np.median(f0s)) if f0s else 0.0


# ---------------------------------------------------------------- build
