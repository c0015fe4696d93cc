"""One utterance's audio → text, word timings and confidences, with CTranslate2's Whisper.

We drive ``ctranslate2.models.Whisper`` directly (encode → generate → align) rather than via
faster-whisper, whose high-level API always pads to a 30 s window: for streaming partials that
is 8–10× the work. Instead:

* partials decode the utterance so far, barely padded (cheap; their text is provisional);
* finals pad the audio with digital silence to ``final_pad`` seconds (10 s by default):
  unpadded finals were measured to loop and repeat words on real speech;
* ``align()`` on the same encoder output gives word start/end (cross-attention DTW) and the
  per-token probabilities that become word confidences.

Hallucination guards live here too: the no-speech test (Whisper's own rule: no-speech
probability above the threshold *and* a low average log-probability), a token budget
proportional to the audio length so a loop cannot run on, and a repetition guard that trims a
looping tail. None of them compares one utterance with another, so saying "yes" twice yields
two finals.

All of this is blocking and runs in a worker thread; ``cancel`` is checked between the steps so
a cancelled session's thread returns within one step.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import FRAMES_PER_SECOND, log_mel, upsample_8k_to_16k
from .models import LoadedModel
from .tokenizer import WordSpan

__all__ = ["DecodeCancelled", "DecodeResult", "TimedWord", "WhisperDecoder", "find_loop"]

_ENCODER_STRIDE = 2  # encoder positions per mel frame pair
_SECONDS_PER_POSITION = _ENCODER_STRIDE / FRAMES_PER_SECOND  # 20 ms
_PARTIAL_MIN_WINDOW = 3.0  # seconds: partials see at least this much (audio + silence) …
_TRAILING_SILENCE = 1.5  # … and always this much silence after the audio (a clip that stops
# mid-word, with nothing after it, is what makes Whisper loop: measured on espeak speech).
_MAX_WINDOW = 30.0
_LOGPROB_THRESHOLD = -1.0  # Whisper's: with a high no-speech probability, below this is silence
_COMPRESSION_LIMIT = 2.4  # Whisper's: text that gzips better than this is a loop
# Scripts that cost many tokens per second of speech get a bigger budget.
_DENSE_LANGUAGES = frozenset(
    {"hi", "th", "ta", "te", "ml", "kn", "bn", "my", "km", "lo", "si", "am", "ka", "hy", "gu",
     "pa", "mr", "ne", "ur", "fa", "ar", "he", "el", "ru", "uk", "bg", "sr", "mk", "be", "kk",
     "ja", "zh", "yue", "ko", "bo", "sa", "sd", "ps", "yi", "tg", "mn", "as", "or", "ba", "tt"}
)  # fmt: skip


class DecodeCancelled(Exception):
    """Raised inside the worker thread when the session was cancelled mid-decode."""


@dataclass(frozen=True, slots=True)
class TimedWord:
    """A word with times in seconds from the start of the decoded audio."""

    value: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, slots=True)
class DecodeResult:
    """What one decode found; ``words`` is empty for partials (no alignment is run)."""

    text: str
    words: tuple[TimedWord, ...]
    confidence: float
    no_speech_prob: float
    avg_logprob: float
    looped: bool


def find_loop(words: Sequence[str]) -> int | None:
    """Where a looping tail starts repeating (index to cut at), or ``None``.

    A loop is a block of words repeated back to back: a 1–2-word block five times or more, a
    3–4-word block three times, or a block of five words or more followed by at least five of
    its words again (a loop cut short by the token budget). Ordinary repetition ("no, no, no",
    "yes yes", "can you hear me, can you hear me") is left alone. The cut keeps the first
    occurrence of the block.
    """
    norm = ["".join(ch for ch in w.lower() if ch.isalnum()) for w in words]
    n = len(norm)
    for start in range(n):
        for period in range(1, min(30, n - start - 1) + 1):
            if not norm[start]:
                break
            run = 0  # how many words after the first block continue the period
            while start + period + run < n and norm[start + run] == norm[start + period + run]:
                run += 1
            repeats = 1 + run / period
            if (period <= 2 and repeats >= 5) or (3 <= period <= 4 and repeats >= 3) or (
                period >= 5 and run >= 5
            ):
                return start + period
    return None


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


_ENERGY_FRAME = 80  # 10 ms at 8 kHz
_SNAP_BEFORE = 0.25  # seconds a word boundary may move earlier …
_SNAP_AFTER = 0.35  # … or later (DTW boundaries run early, ~0.2 s for ``base``)


def _snap_to_energy(words: list[TimedWord], pcm: npt.NDArray[np.int16]) -> list[TimedWord]:
    """Move DTW word boundaries onto the pauses and onsets actually in the audio.

    Cross-attention DTW puts boundaries a little early (measured ~0.2 s for ``base`` on 8 kHz
    speech) and always starts the first word at 0 (the pre-roll). Each boundary between two
    words moves to the quietest 10 ms frame near it — the next word starts where that quiet
    run ends, the previous one ends where it began — and the first/last words are trimmed to
    their first/last clearly audible frame. When the utterance shows no speech/pause contrast
    at all (steady noise) the DTW times are kept.
    """
    n_frames = pcm.shape[0] // _ENERGY_FRAME
    if n_frames < 2 or not words:
        return words
    frames = pcm[: n_frames * _ENERGY_FRAME].astype(np.float32).reshape(n_frames, _ENERGY_FRAME)
    level = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1.0)
    floor = float(np.percentile(level, 10))
    peak = float(np.percentile(level, 99))
    if peak - floor < 12.0:
        return words
    loud = level > max(floor + 10.0, peak - 40.0)
    step = _ENERGY_FRAME / 8000.0

    def frame(t: float) -> int:
        return min(int(n_frames), max(0, round(t / step)))

    starts = [frame(w.start) for w in words]
    ends = [frame(w.end) for w in words]
    for i in range(1, len(words)):
        lo = max(starts[i - 1] + 1, frame(words[i].start - _SNAP_BEFORE))
        hi = min(max(ends[i], starts[i] + 1), frame(words[i].start + _SNAP_AFTER), n_frames)
        if hi <= lo:
            continue
        candidates = lo + np.flatnonzero(~loud[lo:hi])
        if candidates.size == 0:
            # No pause here (continuous speech): the quietest frame is the likeliest boundary.
            starts[i] = ends[i - 1] = lo + int(np.argmin(level[lo:hi]))
            continue
        boundary = frame(words[i].start)
        quiet = int(candidates[np.argmin(np.abs(candidates - boundary))])
        q0, q1 = quiet, quiet + 1
        while q0 > lo and not loud[q0 - 1]:
            q0 -= 1
        while q1 < hi and not loud[q1]:
            q1 += 1
        ends[i - 1], starts[i] = q0, q1
    first_loud = np.flatnonzero(loud[starts[0] : max(ends[0], starts[0] + 1)])
    if first_loud.size:
        starts[0] += int(first_loud[0])
    tail_end = min(n_frames, ends[-1] + round(_SNAP_AFTER / step))
    last_loud = np.flatnonzero(loud[starts[-1] : tail_end])
    if last_loud.size:
        ends[-1] = starts[-1] + int(last_loud[-1]) + 1
    out: list[TimedWord] = []
    for word, start, end in zip(words, starts, ends, strict=True):
        out.append(TimedWord(word.value, round(start * step, 3), round(max(end, start) * step, 3),
                             word.confidence))
    return out


class WhisperDecoder:
    """Stateless decoding against a shared :class:`LoadedModel` (safe from many threads)."""

    def __init__(self, model: LoadedModel, *, beam_size: int, final_pad: float, no_speech_threshold: float):
        self.model = model
        self._beam_size = beam_size
        self._final_pad = final_pad
        self._no_speech_threshold = no_speech_threshold

    def _token_budget(self, seconds: float, language: str | None, prompt_length: int) -> int:
        rate = 25.0 if language in _DENSE_LANGUAGES else 12.0
        return min(448, prompt_length + 16 + math.ceil(seconds * rate))

    def decode(
        self,
        pcm: npt.NDArray[np.int16],
        language: str | None,
        *,
        final: bool,
        cancel: threading.Event,
    ) -> DecodeResult | None:
        """Decode one utterance (8 kHz int16). ``None`` means nothing was said."""
        import ctranslate2  # type: ignore[import-untyped]

        whisper: Any = self.model.whisper
        tokenizer = self.model.tokenizer
        seconds = pcm.shape[0] / 8000.0
        audio = upsample_8k_to_16k(pcm)
        window = max(self._final_pad if final else _PARTIAL_MIN_WINDOW, seconds + _TRAILING_SILENCE)
        features = log_mel(audio, self.model.n_mels, min(_MAX_WINDOW, window))
        content_frames = min(features.shape[1], math.ceil(seconds * FRAMES_PER_SECOND))
        if cancel.is_set():
            raise DecodeCancelled
        encoded = whisper.encode(ctranslate2.StorageView.from_array(features[None]))
        if cancel.is_set():
            raise DecodeCancelled
        prompt = tokenizer.prompt(language)
        budget = self._token_budget(seconds, language, len(prompt))
        generated = whisper.generate(
            encoded,
            [prompt],
            beam_size=self._beam_size if final else 1,
            max_length=budget,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
        )[0]
        tokens = tokenizer.text_tokens(generated.sequences_ids[0])
        no_speech_prob = float(generated.no_speech_prob)
        cum_logprob = float(generated.scores[0]) * max(1, len(generated.sequences_ids[0]))
        avg_logprob = cum_logprob / (len(tokens) + 1)
        if not tokens:
            return None
        if no_speech_prob > self._no_speech_threshold and avg_logprob < _LOGPROB_THRESHOLD:
            return None
        spans = tokenizer.split_words(tokens, language)
        hit_budget = len(generated.sequences_ids[0]) + len(prompt) >= budget
        looped = False
        cut = find_loop([s.text for s in spans])
        if cut is not None:
            looped = True
            tokens = tokens[: spans[cut - 1].end]
            spans = spans[:cut]
        elif hit_budget or _compression_ratio(tokenizer.decode(tokens)) > _COMPRESSION_LIMIT:
            looped = True  # suspicious but with no clear loop to cut: keep it, trust it less
        text = tokenizer.decode(tokens).strip()
        if not text or not spans:
            return None
        if not final:
            confidence = min(1.0, max(0.0, math.exp(avg_logprob))) * (0.5 if looped else 1.0)
            return DecodeResult(text, (), confidence, no_speech_prob, avg_logprob, looped)
        if cancel.is_set():
            raise DecodeCancelled
        aligned = whisper.align(encoded, prompt, [tokens], content_frames)[0]
        words = _snap_to_energy(self._timed_words(spans, aligned, tokens, seconds), pcm)
        confidence = float(np.mean([w.confidence for w in words])) if words else math.exp(avg_logprob)
        if looped:
            confidence *= 0.5
        return DecodeResult(
            text, tuple(words), min(1.0, max(0.0, confidence)), no_speech_prob, avg_logprob, looped
        )

    @staticmethod
    def _timed_words(
        spans: Sequence[WordSpan], aligned: Any, tokens: Sequence[int], seconds: float
    ) -> list[TimedWord]:
        """Word times from the DTW path: a token starts where the path first reaches it."""
        probs = list(aligned.text_token_probs)
        path = list(aligned.alignments)
        token_start = np.full(len(tokens) + 1, np.nan)
        for text_index, time_index in path:
            if 0 <= text_index <= len(tokens) and np.isnan(token_start[text_index]):
                token_start[text_index] = time_index * _SECONDS_PER_POSITION
        # Tokens the path skipped inherit the next known start (or the audio end).
        token_start[len(tokens)] = (
            token_start[len(tokens)] if not np.isnan(token_start[len(tokens)]) else seconds
        )
        for i in range(len(tokens) - 1, -1, -1):
            if np.isnan(token_start[i]):
                token_start[i] = token_start[i + 1]
        token_start = np.minimum(np.maximum.accumulate(np.clip(token_start, 0.0, seconds)), seconds)
        words: list[TimedWord] = []
        for span in spans:
            start = float(token_start[span.start])
            end = float(token_start[min(span.end, len(tokens))])
            token_probs = probs[span.start : span.end] or [0.0]
            confidence = float(np.clip(np.mean(token_probs), 0.0, 1.0))
            words.append(TimedWord(span.text, round(start, 3), round(max(end, start), 3), confidence))
        return words
