"""An engine that consumes audio and recognises nothing: the protocol path, measured alone.

The load benchmark runs the real server with this engine so the numbers say what the
WebSocket handling, the session state machine, µ-law decoding, channel splitting and the
recognizer plumbing cost, with no model in the way. Each channel still gets a real
recognizer task reading a real memory channel, exactly like a real engine's.

By default it never emits anything. ``NULL_FINAL_EVERY=<seconds>`` makes the recognizer of
channel 0 emit one short final (eight words with timings) each time it has read that many
seconds of audio, and nothing else (no partials, nothing on other channels, nothing at a flush
or at the end): a fixed, predictable stream of finals, so the benchmark of the transcript
store (``bench/store.py``) knows how many writes it caused (1000 calls at 6 s ≈ 170 finals/s).

Load it in the server with ``CONNECTOR_ENGINES=null`` through ``bench/server.py``, or as
``bench.null_engine:create_engine`` anywhere an engine target is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from connector.asr import SAMPLE_RATE, EngineConfigError, Hypothesis, RecognizerInput, RecognizerSpec, Word
from connector.envparse import EnvReader

__all__ = ["FINAL_WORDS", "NullEngine", "NullRecognizer", "create_engine"]

LANGUAGES = ("en-US", "en-GB", "es-ES", "es-US", "fr-FR", "de-DE", "it-IT", "pt-BR", "ja-JP", "nl-NL")
FINAL_WORDS = ("thank", "you", "for", "calling", "how", "can", "I", "help")
"""The text of every final (``NULL_FINAL_EVERY``): about what one short sentence weighs in the store."""
WORD_SECONDS = 0.3


class NullRecognizer:
    """Reads every chunk (so buffers drain like a real engine's); emits a final every
    ``final_every`` seconds of audio read when given, else never."""

    def __init__(self, final_every: float | None = None, language: str | None = None) -> None:
        self.samples = 0
        self.finals = 0
        self.final_every = round(final_every * SAMPLE_RATE) if final_every else None
        self.language = language

    async def run(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        results: trio.MemorySendChannel[Hypothesis],
    ) -> None:
        async for item in audio:
            pcm = getattr(item, "pcm", None)
            if pcm is None:
                continue
            self.samples += len(pcm)
            while self.final_every is not None and self.samples >= (self.finals + 1) * self.final_every:
                await results.send(self._final((self.finals + 1) * self.final_every / SAMPLE_RATE))
                self.finals += 1

    def _final(self, end: float) -> Hypothesis:
        """The words end at ``end`` (seconds of audio read), one every 0.3 s, as if just spoken."""
        start = max(0.0, end - WORD_SECONDS * len(FINAL_WORDS))
        step = (end - start) / len(FINAL_WORDS)
        words = [
            Word(value=w, start=start + i * step, duration=step, confidence=0.9) for i, w in enumerate(FINAL_WORDS)
        ]
        return Hypothesis(
            utterance=self.finals,
            text=" ".join(FINAL_WORDS),
            is_final=True,
            start=start,
            duration=end - start,
            confidence=0.9,
            words=words,
            language=self.language,
        )


@dataclass
class NullEngine:
    name: str = "null"
    languages: Sequence[str] = LANGUAGES
    final_every: float | None = None
    """Seconds of audio between finals on channel 0 (``NULL_FINAL_EVERY``); ``None``: never."""

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def supported_languages(self) -> Sequence[str]:
        return list(self.languages)

    def supports_language(self, language: str) -> bool:
        return language.lower() in {code.lower() for code in self.languages}

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        pass

    def create(self, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> NullRecognizer:
        return NullRecognizer(self.final_every if spec.channel == 0 else None, spec.language)


def create_engine(env: Mapping[str, str]) -> NullEngine:
    """Engine entry point (``module:function`` form), like every engine module's."""
    read = EnvReader(env, error=EngineConfigError)
    every = read.number("NULL_FINAL_EVERY", 0.0, low=0)
    return NullEngine(name=env.get("NULL_ENGINE_NAME", "null"), final_every=every or None)
