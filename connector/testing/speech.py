"""Real speech for tests and benchmarks: espeak-ng → 8 kHz mono int16, made at test time.

Engines are judged on real audio, not on mocks, so tests synthesise what a caller says with
espeak-ng (a Debian package; ``apt-get install espeak-ng``) and feed it at the telephone rate.
:func:`synthesize` trims the synthesiser's own leading/trailing silence, so the returned array
*is* the speech span: a test that places it at a known offset knows exactly where the words are.

    pcm = synthesize("the quick brown fox")          # int16 @ 8 kHz, speech only
    audio = np.concatenate([silence(0.5), pcm, silence(1.0)])
    assert word_error_rate("The quick brown fox.", "the quick brown box") == 0.25

:func:`word_error_rate` scores transcripts the way docs/measuring.md defines WER: case and
punctuation dropped, digits spelled out one by one (``742`` → ``seven four two``), so write
references with numbers as spoken digits.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from connector.vocabulary import SAMPLE_RATE, Pcm

__all__ = [
    "RATE",
    "SpeechUnavailable",
    "WordErrors",
    "espeak_available",
    "normalize_words",
    "silence",
    "synthesize",
    "tone",
    "ulaw_roundtrip",
    "word_error_rate",
    "word_errors",
]

RATE = SAMPLE_RATE

_TRIM_THRESHOLD = 200  # |sample| above this (of 32767) counts as speech when trimming


class SpeechUnavailable(RuntimeError):
    """espeak-ng is not installed: the test suite turns this into a skip (or, under CI, a failure)."""


def espeak_available() -> bool:
    """Whether the espeak-ng binary is on PATH (tests skip with a clear reason otherwise)."""
    return shutil.which("espeak-ng") is not None


def _read_wav_pcm(data: bytes) -> tuple[Pcm, int]:
    """Parse espeak's streamed WAV (its header sizes are placeholders, so find ``data`` by hand)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not produce a WAV stream")
    rate = int.from_bytes(data[24:28], "little")
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk_id == b"data":
            body = data[pos + 8 :]
            body = body[: len(body) - len(body) % 2]
            return np.frombuffer(body, dtype="<i2").astype(np.int16), rate
        pos += 8 + size
    raise RuntimeError("espeak-ng WAV stream has no data chunk")


def _resample(x: npt.NDArray[np.float64], rate_in: int, rate_out: int) -> npt.NDArray[np.float64]:
    """Band-limited resampling via the FFT (exact low-pass at the new Nyquist; fine for clips)."""
    n_out = round(x.shape[0] * rate_out / rate_in)
    pad = 1024  # keep the circular wrap-around of the FFT away from the signal
    padded = np.pad(x, (pad, pad))
    spectrum = np.fft.rfft(padded)
    n_padded_out = round(padded.shape[0] * rate_out / rate_in)
    keep = n_padded_out // 2 + 1
    resized = np.zeros(keep, dtype=np.complex128)
    m = min(keep, spectrum.shape[0])
    resized[:m] = spectrum[:m]
    y = np.fft.irfft(resized, n=n_padded_out) * (n_padded_out / padded.shape[0])
    start = round(pad * rate_out / rate_in)
    out: npt.NDArray[np.float64] = y[start : start + n_out]
    return out


@lru_cache(maxsize=256)
def _synthesize_cached(text: str, voice: str, rate: int, amplitude: int) -> bytes:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechUnavailable("espeak-ng is not installed (apt-get install espeak-ng)")
    proc = subprocess.run(  # noqa: S603 - a fixed binary, the text one argument, no shell
        [binary, "-v", voice, "-s", str(rate), "-a", str(amplitude), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    )
    pcm, source_rate = _read_wav_pcm(proc.stdout)
    resampled = _resample(pcm.astype(np.float64), source_rate, RATE)
    out = np.clip(np.round(resampled), -32768, 32767).astype(np.int16)
    loud = np.flatnonzero(np.abs(out.astype(np.int32)) > _TRIM_THRESHOLD)
    if loud.size == 0:
        return b""
    return out[loud[0] : loud[-1] + 1].tobytes()


def synthesize(text: str, voice: str = "en-us", rate: int = 160, amplitude: int = 100) -> Pcm:
    """Speak ``text`` → int16 samples at 8 kHz, trimmed to the speech itself.

    ``rate`` is espeak's words per minute (80–450; 160 is a natural pace), ``voice`` any
    espeak-ng voice (``en-us``, ``es``, ``de`` …), ``amplitude`` 0–200. Results are cached per
    argument tuple, and a fresh writable copy is returned each call.
    """
    return np.frombuffer(_synthesize_cached(text, voice, rate, amplitude), dtype=np.int16).copy()


def silence(seconds: float) -> Pcm:
    """Digital silence at 8 kHz."""
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def tone(frequency: float, seconds: float, level: float = 0.3) -> Pcm:
    """A pure sine tone at 8 kHz, ``level`` of full scale (for 'no text from tones' tests)."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * frequency * t) * level * 32767).astype(np.int16)


def ulaw_roundtrip(pcm: Pcm) -> Pcm:
    """What a G.711 µ-law leg does to the samples (what Genesys actually sends)."""
    from connector.audio.codecs import decode_ulaw, encode_ulaw

    return decode_ulaw(encode_ulaw(pcm))


_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


_FILLERS = frozenset({"uh", "um", "uhm", "umm", "er", "erm", "ah", "hmm", "mm", "mhm"})


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation or fillers (uh, um …), digits spelled out one by one.

    Fillers are dropped as WER normalisers usually do (Whisper's own does): transcripts of
    spontaneous speech write them or not by convention, not by accuracy.
    """
    text = text.lower().replace("-", " ")
    text = re.sub(r"\d", lambda m: f" {_DIGITS[int(m.group())]} ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words = (w.strip("'") for w in text.split())
    return [w for w in words if w and w not in _FILLERS]


@dataclass(frozen=True, slots=True)
class WordErrors:
    """A word alignment's counts; ``rate`` is the WER (errors / reference words)."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        if not self.reference_words:
            return 0.0 if not self.insertions else 1.0
        return self.errors / self.reference_words


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Substitutions, deletions and insertions of a minimum-edit alignment (after normalising)."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    # cost[i][j]: (edits, deletions, insertions) aligning ref[:i] with hyp[:j]; ties prefer
    # substitutions, so a count of deletions is never inflated by the tie-break.
    prev = [(j, 0, j) for j in range(len(hyp) + 1)]
    for i, r in enumerate(ref, 1):
        row = [(i, i, 0)]
        for j, h in enumerate(hyp, 1):
            sub = prev[j - 1]
            sub = (sub[0] + (r != h), sub[1], sub[2])
            dele = (prev[j][0] + 1, prev[j][1] + 1, prev[j][2])
            ins = (row[j - 1][0] + 1, row[j - 1][1], row[j - 1][2] + 1)
            row.append(min(sub, dele, ins, key=lambda c: (c[0], c[1] + c[2])))
        prev = row
    edits, deletions, insertions = prev[-1]
    return WordErrors(edits - deletions - insertions, deletions, insertions, len(ref))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after :func:`normalize_words`."""
    return word_errors(reference, hypothesis).rate
