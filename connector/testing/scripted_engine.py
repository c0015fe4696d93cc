"""A small deterministic engine for protocol tests and for trying a server without a model.

It "recognises" energy: every stretch of non-silent audio is an utterance whose text is
``"segment <n>"``, with one word per 0.25 s at the true times of the sound. That makes
offsets checkable to the sample, which real speech engines cannot promise. Knobs let tests
inject faults: raise after some audio, hang on close, or do its work in worker threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trio

from connector.asr import (
    AudioChunk,
    EngineConfigError,
    EngineError,
    Flush,
    Hypothesis,
    RecognizerInput,
    RecognizerSpec,
    Word,
)
from connector.vocabulary import SAMPLE_RATE

RATE = SAMPLE_RATE


@dataclass
class ScriptedOptions:
    threshold: int = 500
    end_silence: float = 0.3
    partial_after: float = 0.5
    fail_after_seconds: float | None = None
    hang_on_close: bool = False
    stall_until: trio.Event | None = None
    """Read no audio until this is set (an engine that fell behind)."""
    use_threads: bool = False
    script: Sequence[str] = ()
    """Texts the utterances say in turn (their words spread evenly over the sound) instead of
    ``"segment <n>"``: transcripts with given content (redaction, phrase rules)."""


@dataclass
class ScriptedEngine:
    name: str = "scripted"
    languages: Sequence[str] = ("en-US", "es-ES", "fr-FR")
    options: ScriptedOptions = field(default_factory=ScriptedOptions)
    started: bool = False
    created: list[RecognizerSpec] = field(default_factory=list)

    async def start(self) -> None:
        self.started = True

    async def aclose(self) -> None:
        self.started = False

    def supported_languages(self) -> Sequence[str]:
        return list(self.languages)

    def supports_language(self, language: str) -> bool:
        return language.lower() in {code.lower() for code in self.languages}

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        if options.get("scriptedModel", "default") != "default":
            raise EngineConfigError("customConfig.scriptedModel must be 'default'")

    def create(self, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> ScriptedRecognizer:
        self.created.append(spec)
        return ScriptedRecognizer(self, spec, limiter)


class ScriptedRecognizer:
    def __init__(self, engine: ScriptedEngine, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> None:
        self.engine = engine
        self.spec = spec
        self.limiter = limiter
        self.opts = engine.options
        self.fed = 0
        self.utterance = 0
        self.speech_start: int | None = None
        self.last_loud = 0
        self.partial_sent = False

    async def _energy(self, pcm: np.ndarray) -> np.ndarray:
        def compute() -> np.ndarray:
            blocks = pcm[: len(pcm) // 80 * 80].astype(np.float64).reshape(-1, 80)
            return np.sqrt((blocks**2).mean(axis=1)) if len(blocks) else np.zeros(0)

        if self.opts.use_threads:
            return await trio.to_thread.run_sync(compute, limiter=self.limiter)
        return compute()

    def _hypothesis(self, end: int, final: bool) -> Hypothesis:
        assert self.speech_start is not None
        start_s = self.speech_start / RATE
        end_s = max(end, self.speech_start + 1) / RATE
        words: list[Word] = []
        script = self.opts.script
        text = script[self.utterance % len(script)] if script else f"segment {self.utterance}"
        if script:
            tokens = text.split()
            step = (end_s - start_s) / max(1, len(tokens))
            words = [Word(token, start_s + i * step, step, 0.9) for i, token in enumerate(tokens)]
        t = start_s
        while not script and t < end_s - 1e-9:
            d = min(0.25, end_s - t)
            words.append(Word(value=f"w{len(words) + 1}", start=t, duration=d, confidence=0.9))
            t += 0.25
        return Hypothesis(
            utterance=self.utterance,
            text=text,
            is_final=final,
            start=start_s,
            duration=end_s - start_s,
            confidence=0.9,
            words=words,
            language=self.spec.language,
        )

    async def _finalise(self, results: trio.MemorySendChannel[Hypothesis]) -> None:
        if self.speech_start is not None:
            await results.send(self._hypothesis(self.last_loud, final=True))
            self.utterance += 1
            self.speech_start = None
            self.partial_sent = False

    async def run(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        results: trio.MemorySendChannel[Hypothesis],
    ) -> None:
        if self.opts.stall_until is not None:
            await self.opts.stall_until.wait()
        async for item in audio:
            if isinstance(item, Flush):
                await self._finalise(results)
                continue
            assert isinstance(item, AudioChunk)
            energy = await self._energy(item.pcm)
            for i, level in enumerate(energy):
                pos = self.fed + i * 80
                if level >= self.opts.threshold:
                    if self.speech_start is None:
                        self.speech_start = pos
                    self.last_loud = pos + 80
                elif self.speech_start is not None and pos - self.last_loud >= self.opts.end_silence * RATE:
                    await self._finalise(results)
            self.fed += len(item.pcm)
            if (
                self.speech_start is not None
                and not self.partial_sent
                and self.last_loud - self.speech_start >= self.opts.partial_after * RATE
            ):
                self.partial_sent = True
                await results.send(self._hypothesis(self.last_loud, final=False))
            if self.opts.fail_after_seconds is not None and self.fed >= self.opts.fail_after_seconds * RATE:
                raise EngineError("scripted engine failure")
        await self._finalise(results)
        if self.opts.hang_on_close:
            await trio.sleep_forever()


def create_engine(env: Mapping[str, str]) -> ScriptedEngine:
    """Entry for ``CONNECTOR_ENGINES=connector.testing.scripted_engine:create_engine`` (CLI tests)."""
    return ScriptedEngine()
