"""One utterance's audio → text, word timings and confidences, with CTranslate2's Whisper.

We drive ``ctranslate2.models.Whisper`` directly (encode → generate → align) rather than via
faster-whisper, whose high-level API always pads to a 30 s window: for streaming partials that
is 8–10× the work. Instead:

* partials decode the utterance so far, barely padded (cheap; their text is provisional);
* finals get 1.5 s of digital silence after the speech and at least ``final_pad`` seconds in
  all (3 s by default), prompted with what the channel said before (Whisper's previous-text
  context); a final whose decode shows evidence of a loop (:mod:`.loopguard`) is decoded once
  more in a 10 s window without that prompt — short windows and prompts are where loops start —
  so a loop costs a second decode, not words;
* ``align()`` on the same encoder output gives word start/end (cross-attention DTW) and the
  per-token probabilities that become word confidences.

Hallucination guards live here too: the no-speech test (Whisper's own rule: no-speech
probability above the threshold *and* a low average log-probability), a token budget
proportional to the audio length so a loop cannot run on, and the loop guard, which cuts a
looping tail only on evidence (budget hit, words outrunning the voiced audio, repeats aligned
into silence). None of them compares one utterance with another, so saying "yes" twice yields
two finals.

All of this is blocking and runs in a worker thread; ``cancel`` is checked between the steps so
a cancelled session's thread returns within one step.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ...vocabulary import SAMPLE_RATE
from .features import FRAMES_PER_SECOND, log_mel, upsample_8k_to_16k
from .loopguard import LoopEvidence, loop_cut
from .models import LoadedModel
from .tokenizer import WordSpan

__all__ = ["CancelFlag", "DecodeCancelled", "DecodeResult", "TimedWord", "WhisperDecoder"]

_ENCODER_STRIDE = 2  # encoder positions per mel frame pair
_SECONDS_PER_POSITION = _ENCODER_STRIDE / FRAMES_PER_SECOND  # 20 ms
_PARTIAL_MIN_WINDOW = 3.0  # seconds: partials see at least this much (audio + silence) …
_TRAILING_SILENCE = 1.5  # … and always this much silence after the audio (a clip that stops
# mid-word, with nothing after it, is what makes Whisper loop: measured on espeak speech).
_MAX_WINDOW = 30.0
_MAX_TOKENS = 448  # Whisper's text context
_RETRY_PAD = 10.0  # seconds: the window a final showing a loop is decoded in once more
_LOGPROB_THRESHOLD = -1.0  # Whisper's: with a high no-speech probability, below this is silence
_COMPRESSION_LIMIT = 2.4  # Whisper's: text that gzips better than this is a loop
# Scripts that cost many tokens per second of speech get a bigger budget.
_DENSE_LANGUAGES = frozenset(
    {"hi", "th", "ta", "te", "ml", "kn", "bn", "my", "km", "lo", "si", "am", "ka", "hy", "gu",
     "pa", "mr", "ne", "ur", "fa", "ar", "he", "el", "ru", "uk", "bg", "sr", "mk", "be", "kk",
     "ja", "zh", "yue", "ko", "bo", "sa", "sd", "ps", "yi", "tg", "mn", "as", "or", "ba", "tt"}
)  # fmt: skip


class CancelFlag(Protocol):
    """What a decode polls between its steps (a ``threading.Event`` is one)."""

    def is_set(self) -> bool: ...


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
    looped: bool  # the decode showed loop evidence (what looped was cut; confidence halved)
    tokens: tuple[int, ...] = ()  # the text tokens kept: the next utterance's prompt context


@dataclass(frozen=True, slots=True)
class _Attempt:
    result: DecodeResult
    cut: int | None  # where the loop guard cut, if it did
    kept_words: int


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


_ENERGY_FRAME = 80  # 10 ms at 8 kHz


_Loudness = tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]] | None
"""Each 10 ms frame's level (dB) and whether it is clearly audible, or ``None`` (no contrast)."""


def _loudness(pcm: npt.NDArray[np.int16]) -> _Loudness:
    """Each 10 ms frame's level (dB) and whether it is clearly audible.

    ``None`` when the audio shows no speech/pause contrast at all (steady noise, or too short).
    """
    n_frames = pcm.shape[0] // _ENERGY_FRAME
    if n_frames < 2:
        return None
    frames = pcm[: n_frames * _ENERGY_FRAME].astype(np.float32).reshape(n_frames, _ENERGY_FRAME)
    level = 10.0 * np.log10(np.mean(frames * frames, axis=1, dtype=np.float64) + 1.0)
    floor = float(np.percentile(level, 10))
    peak = float(np.percentile(level, 99))
    if peak - floor < 12.0:
        return None
    return level, level > max(floor + 10.0, peak - 40.0)


def _speech_end(measured: _Loudness) -> float | None:
    """Seconds at which the last clearly audible 10 ms frame ends, or ``None`` if unknown."""
    if measured is None:
        return None
    loud = np.flatnonzero(measured[1])
    return float((loud[-1] + 1) * _ENERGY_FRAME / SAMPLE_RATE) if loud.size else None


_SNAP_BEFORE = 0.25  # seconds a word boundary may move earlier …
_SNAP_AFTER = 0.35  # … or later (DTW boundaries run early, ~0.2 s for ``base``)


def _snap_to_energy(words: list[TimedWord], measured: _Loudness) -> list[TimedWord]:
    """Move DTW word boundaries onto the pauses and onsets actually in the audio.

    Cross-attention DTW puts boundaries a little early (measured ~0.2 s for ``base`` on 8 kHz
    speech) and always starts the first word at 0 (the pre-roll). Each boundary between two
    words moves to the quietest 10 ms frame near it — the next word starts where that quiet
    run ends, the previous one ends where it began — and the first/last words are trimmed to
    their first/last clearly audible frame. When the utterance shows no speech/pause contrast
    at all (steady noise) the DTW times are kept.
    """
    if measured is None or not words:
        return words
    level, loud = measured
    n_frames = level.shape[0]
    step = _ENERGY_FRAME / SAMPLE_RATE

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
    """Stateless decoding against a shared :class:`LoadedModel` (safe from many threads).

    ``final_pad`` is the window a final is padded to at first; when its decode shows evidence
    of a loop (:mod:`.loopguard`), the utterance is decoded once more in a ``retry_pad`` window
    without the previous-text prompt, and only what is left looping after that is cut.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        beam_size: int,
        final_pad: float,
        no_speech_threshold: float,
        retry_pad: float = _RETRY_PAD,
    ):
        self.model = model
        self._beam_size = beam_size
        self._final_pad = final_pad
        self._retry_pad = max(retry_pad, final_pad)
        self._no_speech_threshold = no_speech_threshold

    @staticmethod
    def _token_budget(seconds: float, language: str | None, prompt_length: int) -> tuple[int, int]:
        """``(max_length, tokens)``: what to ask CTranslate2 for so that it generates ``tokens``.

        CTranslate2's Whisper generates at most ``max_length // 2`` tokens, and no more than
        ``max_length`` counting the prompt (measured on 4.8: Whisper's own ``n_text_ctx // 2``
        sample length), so ``max_length`` is set to whichever of the two allows ``tokens``.
        """
        rate = 25.0 if language in _DENSE_LANGUAGES else 12.0
        wanted = min(_MAX_TOKENS // 2, 16 + math.ceil(seconds * rate))
        max_length = min(_MAX_TOKENS, max(2 * wanted, prompt_length - 1 + wanted))
        return max_length, min(max_length // 2, max_length - prompt_length + 1)

    def decode(
        self,
        pcm: npt.NDArray[np.int16],
        language: str | None,
        *,
        final: bool,
        cancel: CancelFlag,
        previous: Sequence[int] = (),
        voiced_seconds: float | None = None,
    ) -> DecodeResult | None:
        """Decode one utterance (8 kHz int16). ``None`` means nothing was said.

        ``previous`` are text tokens the channel said before (the prompt's context);
        ``voiced_seconds`` is how much of ``pcm`` the VAD heard as speech (defaults to all).
        """
        seconds = pcm.shape[0] / SAMPLE_RATE
        voiced = seconds if voiced_seconds is None else min(seconds, voiced_seconds)
        pad = self._final_pad if final else _PARTIAL_MIN_WINDOW
        loudness = _loudness(pcm) if final else None  # once, for both attempts
        attempt = self._attempt(pcm, language, pad, final, cancel, previous, voiced, loudness)
        if final and attempt is not None and attempt.cut is not None and self._retry_pad > pad:
            retry = self._attempt(pcm, language, self._retry_pad, final, cancel, (), voiced, loudness)
            # The retry wins unless it lost words: it found nothing, or its own cut kept fewer.
            if retry is not None and (retry.cut is None or retry.kept_words >= attempt.kept_words):
                attempt = retry
        return None if attempt is None else attempt.result

    def _attempt(
        self,
        pcm: npt.NDArray[np.int16],
        language: str | None,
        pad: float,
        final: bool,
        cancel: CancelFlag,
        previous: Sequence[int],
        voiced: float,
        loudness: _Loudness,
    ) -> _Attempt | None:
        import ctranslate2  # type: ignore[import-untyped]

        whisper: Any = self.model.whisper
        tokenizer = self.model.tokenizer
        seconds = pcm.shape[0] / SAMPLE_RATE
        audio = upsample_8k_to_16k(pcm)
        window = max(pad, seconds + _TRAILING_SILENCE)
        features = log_mel(audio, self.model.n_mels, min(_MAX_WINDOW, window))
        content_frames = min(features.shape[1], math.ceil(seconds * FRAMES_PER_SECOND))
        if cancel.is_set():
            raise DecodeCancelled
        encoded = whisper.encode(ctranslate2.StorageView.from_array(features[None]))
        if cancel.is_set():
            raise DecodeCancelled
        sot = tokenizer.prompt(language)
        prompt = tokenizer.with_previous(previous, sot)
        max_length, budget = self._token_budget(seconds, language, len(prompt))
        generated = whisper.generate(
            encoded,
            [prompt],
            beam_size=self._beam_size if final else 1,
            max_length=max_length,
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
        if not spans:
            return None
        hit_budget = len(generated.sequences_ids[0]) >= budget
        compression = _compression_ratio(tokenizer.decode(tokens))
        words: list[TimedWord] = []
        if final:
            if cancel.is_set():
                raise DecodeCancelled
            aligned = whisper.align(encoded, sot, [tokens], content_frames)[0]
            words = _snap_to_energy(self._timed_words(spans, aligned, tokens, seconds), loudness)
        evidence = LoopEvidence(
            hit_budget=hit_budget,
            compression_ratio=compression,
            voiced_seconds=voiced,
            word_starts=[w.start for w in words] if final else None,
            speech_end=_speech_end(loudness) if final else None,
        )
        cut = loop_cut([s.text for s in spans], evidence)
        suspicious = cut is not None or hit_budget or compression > _COMPRESSION_LIMIT
        if cut is not None:
            tokens = tokens[: spans[cut - 1].end] if cut > 0 else []
            spans = spans[:cut]
            words = words[:cut]
        text = tokenizer.decode(tokens).strip()
        if not text or not spans:
            return None
        if final:
            confidence = float(np.mean([w.confidence for w in words])) if words else math.exp(avg_logprob)
        else:
            confidence = math.exp(avg_logprob)
        if suspicious:
            confidence *= 0.5  # kept, but trusted less
        result = DecodeResult(
            text,
            tuple(words),
            min(1.0, max(0.0, confidence)),
            no_speech_prob,
            avg_logprob,
            suspicious,
            tuple(tokens),
        )
        return _Attempt(result, cut, len(spans))

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
