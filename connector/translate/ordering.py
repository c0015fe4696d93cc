"""The session's translation stage: finals translated concurrently, emitted in utterance order.

Design decisions (also in ``docs/engines-cloud.md``):

* **Finals only.** Partials are dropped by default (``partials="drop"``). With
  ``partials="source"`` they are passed on untranslated, *in order*: a partial never overtakes
  a final of an earlier utterance that is still being translated, and a partial that has been
  superseded (by a newer partial or the final of its utterance) by the time its turn comes is
  dropped rather than sent stale. Consumers therefore always see utterances in order.
* **Bounded latency.** Each final gets ``utterance_timeout`` seconds from its arrival (waiting for a free
  request slot included). On timeout or error the ``fallback`` applies: ``"source"`` sends the
  untranslated final (``language`` stays the source language), ``"skip"`` sends nothing. Both
  are counted in :class:`TranslationCounters`.
* **Token timings.** A translation has no alignment to the audio, so its words are spread over
  the source utterance's span and labelled ``timing="spread"``.
* **One line.** Every item kept takes its place in a :class:`connector.ordered.InOrder` line as
  it arrives; the emitter hands them out in that order, whenever each one's translation ends.
* **Ownership.** :func:`translate_in_order` closes ``outbox`` when ``inbox`` is exhausted and
  everything pending is out, like any trio pipeline stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import trio

from ..envparse import EnvReader
from ..language_tags import primary_subtag
from ..ordered import InOrder, Slot
from ..vocabulary import Hypothesis
from ..word_timing import SPREAD, spread_words
from .base import Translator, TranslatorConfigError

__all__ = [
    "TRANSLATION_OUTCOMES",
    "CallTranslation",
    "Fallback",
    "PartialPolicy",
    "PipelineSettings",
    "TranslationCounters",
    "TranslationSink",
    "translate_in_order",
]


class Fallback(StrEnum):
    SOURCE = "source"
    SKIP = "skip"


class PartialPolicy(StrEnum):
    DROP = "drop"
    SOURCE = "source"


@dataclass
class TranslationCounters:
    """Running totals for one pipeline: a :class:`TranslationSink` that keeps them.

    The session passes its observer instead (:class:`connector.observe.SessionTally`), which
    counts the same calls into the session report and ``connector_translations_total``.
    """

    translated: int = 0
    fallbacks: int = 0  # finals sent untranslated or skipped
    timeouts: int = 0
    errors: int = 0
    skipped: int = 0  # finals not sent at all (fallback "skip")
    unchanged: int = 0  # finals already in the target language, or empty
    partials_passed: int = 0
    partials_dropped: int = 0

    def translation(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


TRANSLATION_OUTCOMES = tuple(TranslationCounters.__dataclass_fields__)
"""What :class:`TranslationSink` is told, one call per item: the field names above."""


class TranslationSink(Protocol):
    """Where the pipeline counts what it did (``outcome`` is one of :data:`TRANSLATION_OUTCOMES`)."""

    def translation(self, outcome: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """Server-wide defaults of the translation stage (``TRANSLATION_*`` variables)."""

    timeout: float = 3.0
    fallback: Fallback = Fallback.SOURCE
    max_concurrency: int = 4
    partials: PartialPolicy = PartialPolicy.DROP

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PipelineSettings:
        read = EnvReader(env, error=TranslatorConfigError)
        return cls(
            timeout=read.number("TRANSLATION_TIMEOUT_S", 3.0, low=0.05),
            fallback=Fallback(read.choice("TRANSLATION_FALLBACK", Fallback.SOURCE, Fallback)),
            max_concurrency=int(read.number("TRANSLATION_MAX_CONCURRENCY", 4, low=1)),
            partials=PartialPolicy(read.choice("TRANSLATION_PARTIALS", PartialPolicy.DROP, PartialPolicy)),
        )


@dataclass(frozen=True, slots=True)
class CallTranslation:
    """What one call asks for in ``customConfig`` (``enableTranslation``, ``inputLanguage``)."""

    enabled: bool
    source: str | None  # None: the call's transcription language

    @classmethod
    def from_custom_config(cls, options: Mapping[str, Any]) -> CallTranslation:
        enabled = options.get("enableTranslation", False)
        if not isinstance(enabled, bool):
            raise TranslatorConfigError(f"customConfig.enableTranslation must be true or false, not {enabled!r}")
        source = options.get("inputLanguage")
        if source is not None and (not isinstance(source, str) or not source.strip()):
            raise TranslatorConfigError("customConfig.inputLanguage must be a BCP-47 language code such as en-US")
        return cls(enabled=enabled, source=source.strip() if isinstance(source, str) else None)


@dataclass(frozen=True, slots=True)
class _Turn:
    """One item of the inbox at its turn: what came in, and what goes out (None: nothing)."""

    seq: int
    source: Hypothesis
    out: Hypothesis | None


def _same_language(a: str, b: str) -> bool:
    return primary_subtag(a) == primary_subtag(b)


def translated_hypothesis(source: Hypothesis, text: str, target: str) -> Hypothesis:
    """The translation of ``source``, its words spread over the source utterance's span."""
    words = spread_words(text.split(), source.start, source.duration, source.confidence)
    return Hypothesis(
        utterance=source.utterance,
        text=text,
        is_final=source.is_final,
        start=source.start,
        duration=source.duration,
        confidence=source.confidence,
        words=tuple(words),
        language=target,
        timing=SPREAD,
        source_text=source.text,
        source_language=source.language,
    )


async def translate_in_order(
    translator: Translator,
    inbox: trio.MemoryReceiveChannel[Hypothesis],
    outbox: trio.MemorySendChannel[Hypothesis],
    *,
    source: str,
    target: str,
    utterance_timeout: float,
    fallback: Fallback | str = Fallback.SOURCE,
    max_concurrency: int = 4,
    counters: TranslationSink | None = None,
    partials: PartialPolicy | str = PartialPolicy.DROP,
) -> None:
    """Translate finals from ``inbox`` into ``outbox``; see the module docstring for the rules."""
    fallback = Fallback(fallback)
    partials = PartialPolicy(partials)
    counts: TranslationSink = counters if counters is not None else TranslationCounters()
    requests = trio.Semaphore(max_concurrency)
    latest: dict[int, int] = {}  # utterance → seq of its newest item
    passthrough = _same_language(source, target)

    async def translate(slot: Slot[_Turn], seq: int, hypothesis: Hypothesis, deadline: float) -> None:
        out: Hypothesis | None = None
        try:
            with trio.move_on_at(deadline):
                async with requests:
                    text = await translator.translate(hypothesis.text, source, target)
                out = translated_hypothesis(hypothesis, text.strip(), target)
                counts.translation("translated")
            if out is None:
                counts.translation("timeouts")
        except Exception:  # a backend failure must not end the call: the fallback applies
            counts.translation("errors")
        if out is None:
            counts.translation("fallbacks")
            if fallback is Fallback.SOURCE:
                out = hypothesis
            else:
                counts.translation("skipped")
        slot.fill(_Turn(seq, hypothesis, out))

    async def emit(line: InOrder[_Turn]) -> None:
        async with outbox:
            async for turn in line:
                if not turn.source.is_final and latest.get(turn.source.utterance) != turn.seq:
                    counts.translation("partials_dropped")  # superseded while waiting for its turn
                    continue
                if turn.out is not None:
                    if not turn.out.is_final:
                        counts.translation("partials_passed")
                    await outbox.send(turn.out)

    line = InOrder[_Turn]()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emit, line)
        with line:
            seq = 0
            async for hypothesis in inbox:
                if not hypothesis.is_final and partials is PartialPolicy.DROP:
                    counts.translation("partials_dropped")
                    continue
                seq += 1
                latest[hypothesis.utterance] = seq
                if not hypothesis.is_final:
                    line.put(_Turn(seq, hypothesis, hypothesis))
                elif passthrough or not hypothesis.text.strip():
                    counts.translation("unchanged")
                    line.put(_Turn(seq, hypothesis, hypothesis))
                else:
                    deadline = trio.current_time() + utterance_timeout
                    nursery.start_soon(translate, line.reserve(), seq, hypothesis, deadline)
