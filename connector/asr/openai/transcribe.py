"""One utterance → one ``/audio/transcriptions`` request, with timeout, retries and parsing.

The clip goes as an in-memory WAV (never a temp file). The request asks each model for what it
can give: ``verbose_json`` with word and segment timestamps for Whisper-style models (real word
times, confidences from segment ``avg_logprob``), ``include=["logprobs"]`` for the
``gpt-4o*-transcribe`` models (confidences from token log-probabilities, no times).

Retries: 429, 408, 409, 5xx, connection errors and our own timeout are retried with
exponential backoff and jitter (a ``Retry-After`` header is honoured, within ``retry_max``);
401/403 and other 4xx fail at once with a message that says what to fix. The SDK's own
retries are off so that one policy, bounded by our timeout, applies.
"""

from __future__ import annotations

import io
import logging
import math
import random
import wave
from dataclasses import dataclass
from typing import Any

import openai
import trio
from openai.types.audio import Transcription, TranscriptionVerbose

from ...vocabulary import SAMPLE_RATE, Pcm
from ..base import EngineConfigError, EngineError
from ..languages import OpenAILanguage
from .config import OpenAISettings

__all__ = ["ClipWord", "Transcriber", "Transcript", "to_wav"]

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 409, 429})


def to_wav(pcm: Pcm) -> bytes:
    """8 kHz mono 16-bit WAV bytes, built in memory."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.astype("<i2").tobytes())
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class ClipWord:
    """A word with times in seconds from the start of the clip."""

    value: str
    start: float
    end: float
    confidence: float | None


@dataclass(frozen=True, slots=True)
class Transcript:
    """What came back: text, real word times if the model gave them, and confidences."""

    text: str
    words: tuple[ClipWord, ...] | None  # None: the model gives no word times
    confidence: float | None
    word_confidences: tuple[float, ...] | None = None  # per whitespace-separated word, from logprobs


def _exp(logprob: float) -> float:
    return max(0.0, min(1.0, math.exp(logprob)))


def _from_verbose(response: TranscriptionVerbose) -> Transcript:
    segments = response.segments or []
    seg_conf = [(s.start, s.end, _exp(s.avg_logprob)) for s in segments]

    def conf_at(t: float) -> float | None:
        for start, end, conf in seg_conf:
            if start <= t <= end:
                return conf
        return None

    words = tuple(
        ClipWord(w.word.strip(), w.start, max(w.start, w.end), conf_at((w.start + w.end) / 2))
        for w in response.words or []
        if w.word.strip()
    )
    confidence = sum(c for _, _, c in seg_conf) / len(seg_conf) if seg_conf else None
    return Transcript(text=response.text.strip(), words=words, confidence=confidence)


def _from_logprobs(response: Transcription) -> Transcript:
    text = response.text.strip()
    logprobs = [(lp.token or "", lp.logprob) for lp in response.logprobs or [] if lp.logprob is not None]
    if not logprobs:
        return Transcript(text=text, words=None, confidence=None)
    confidence = _exp(sum(lp for _, lp in logprobs) / len(logprobs))
    return Transcript(text=text, words=None, confidence=confidence, word_confidences=_word_confidences(logprobs))


def _word_confidences(logprobs: list[tuple[str, float]]) -> tuple[float, ...] | None:
    """Per word: exp(mean logprob) of the tokens overlapping it; None if tokens and words disagree."""
    joined = "".join(token for token, _ in logprobs)
    spans: list[tuple[int, int]] = []
    pos = 0
    for word in joined.split():
        start = joined.index(word, pos)
        spans.append((start, start + len(word)))
        pos = start + len(word)
    per_word: list[list[float]] = [[] for _ in spans]
    offset = 0
    for token, logprob in logprobs:
        lo, hi = offset, offset + len(token)
        offset = hi
        for i, (a, b) in enumerate(spans):
            if lo < b and hi > a:
                per_word[i].append(logprob)
    if not spans or any(not lps for lps in per_word):
        return None
    return tuple(_exp(sum(lps) / len(lps)) for lps in per_word)


class Transcriber:
    """Requests through one shared ``AsyncOpenAI`` client (it runs on trio: httpx + anyio)."""

    def __init__(self, client: openai.AsyncOpenAI, settings: OpenAISettings) -> None:
        self._client = client
        self._settings = settings
        self.retries = 0
        """Retried attempts so far (for metrics and tests)."""

    async def transcribe(self, pcm: Pcm, *, model: str, language: OpenAILanguage, prompt: str | None) -> Transcript:
        wav = to_wav(pcm)
        prompts = [p for p in (language.prompt, prompt) if p]
        attempt = 0
        while True:
            attempt += 1
            try:
                with trio.fail_after(self._settings.timeout):
                    return await self._request(wav, model, language.iso, " ".join(prompts) or None)
            except trio.TooSlowError:
                reason, retry_after = f"no answer within {self._settings.timeout:g} s", None
            except openai.APIConnectionError as exc:  # includes the SDK's own timeout
                reason, retry_after = f"connection failed ({type(exc).__name__})", None
            except openai.APIResponseValidationError:
                raise EngineError("OpenAI returned a response that is not a transcription") from None
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in (401, 403):
                    raise EngineConfigError(
                        f"OpenAI rejected the API key (HTTP {status}); check OPENAI_API_KEY"
                    ) from None
                if status not in _RETRY_STATUS and status < 500:
                    raise EngineError(
                        f"OpenAI rejected the transcription request (HTTP {status}): {exc.message}"
                    ) from None
                reason, retry_after = f"HTTP {status}", _retry_after(exc.response.headers.get("retry-after"))
            if attempt > self._settings.max_retries:
                raise EngineError(f"OpenAI transcription failed after {attempt} attempts; last: {reason}")
            self.retries += 1
            delay = min(self._settings.retry_max, self._settings.retry_base * 2 ** (attempt - 1))
            delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security
            if retry_after is not None:
                delay = min(self._settings.retry_max, retry_after)
            log.warning("openai transcription %s; retry %d in %.2f s", reason, attempt, delay)
            await trio.sleep(delay)

    async def _request(self, wav: bytes, model: str, iso: str | None, prompt: str | None) -> Transcript:
        common: dict[str, Any] = {"file": ("utterance.wav", wav, "audio/wav"), "model": model}
        if iso:
            common["language"] = iso
        if prompt:
            common["prompt"] = prompt
        timeout = self._settings.timeout
        if model in self._settings.word_timestamp_models:
            verbose = await self._client.audio.transcriptions.create(
                **common, response_format="verbose_json", timestamp_granularities=["word", "segment"], timeout=timeout
            )
            return _from_verbose(verbose)
        if model in self._settings.logprob_models:
            plain = await self._client.audio.transcriptions.create(
                **common, response_format="json", include=["logprobs"], timeout=timeout
            )
            return _from_logprobs(plain)
        plain = await self._client.audio.transcriptions.create(**common, response_format="json", timeout=timeout)
        return Transcript(text=plain.text.strip(), words=None, confidence=None)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
