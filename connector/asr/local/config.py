"""``LOCAL_*`` environment settings for the embedded engine, validated once at start-up.

Every value is checked here so a typo fails the server start with a message naming the
variable, instead of surfacing as odd behaviour mid-call. The table in docs/engine-local.md
lists the same settings; keep the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ...envparse import EnvReader
from ..base import EngineConfigError
from .tokenizer import MAX_PREVIOUS

__all__ = ["COMPUTE_TYPES", "LocalSettings"]

COMPUTE_TYPES = frozenset(
    {"default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
     "bfloat16", "float32"}
)  # fmt: skip

WINDOW_SECONDS = 30.0  # Whisper's encoder sees at most 30 s


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """Server-wide settings of the embedded engine (see docs/engine-local.md for each)."""

    model: str = "base"
    compute_type: str = "int8"
    threads: int = 1
    beam_size: int = 1
    partial_interval: float = 1.0
    vad_threshold: float = 0.5
    end_silence: float = 0.3
    speculate_after: float = 0.1
    prompt_tokens: int = 64
    preroll: float = 0.3
    min_speech: float = 0.15
    max_utterance: float = 25.0
    final_pad: float = 3.0
    no_speech_threshold: float = 0.6

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalSettings:
        """Read and validate ``LOCAL_*`` variables; raises :class:`EngineConfigError` on bad ones."""
        read = EnvReader(env, error=EngineConfigError)
        settings = cls(
            model=read.text("LOCAL_MODEL", "base"),
            compute_type=read.choice("LOCAL_COMPUTE_TYPE", "int8", sorted(COMPUTE_TYPES)),
            threads=read.integer("LOCAL_THREADS", _usable_cpus(), low=1, high=256),
            beam_size=read.integer("LOCAL_BEAM_SIZE", 1, low=1, high=10),
            partial_interval=read.number("LOCAL_PARTIAL_INTERVAL", 1.0, low=0.0, high=60.0),
            vad_threshold=read.number("LOCAL_VAD_THRESHOLD", 0.5, low=0.05, high=0.95),
            end_silence=read.number("LOCAL_END_SILENCE", 0.3, low=0.1, high=5.0),
            speculate_after=read.number("LOCAL_SPECULATE_AFTER", 0.1, low=0.0, high=5.0),
            prompt_tokens=read.integer("LOCAL_PROMPT_TOKENS", 64, low=0, high=MAX_PREVIOUS),
            preroll=read.number("LOCAL_PREROLL", 0.3, low=0.0, high=2.0),
            min_speech=read.number("LOCAL_MIN_SPEECH", 0.15, low=0.0, high=2.0),
            max_utterance=read.number("LOCAL_MAX_UTTERANCE", 25.0, low=2.0, high=28.0),
            final_pad=read.number("LOCAL_FINAL_PAD", 3.0, low=0.0, high=WINDOW_SECONDS),
            no_speech_threshold=read.number("LOCAL_NO_SPEECH_THRESHOLD", 0.6, low=0.0, high=1.0),
        )
        if settings.max_utterance + settings.preroll > WINDOW_SECONDS - 1.0:
            raise EngineConfigError(
                "LOCAL_MAX_UTTERANCE + LOCAL_PREROLL must stay under 29 s (Whisper's 30 s window)"
            )
        return settings
