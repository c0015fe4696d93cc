"""``LOCAL_*`` environment settings for the embedded engine, validated once at start-up.

Every value is checked here so a typo fails the server start with a message naming the
variable, instead of surfacing as odd behaviour mid-call. The table in docs/engine-local.md
lists the same settings; keep the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EngineConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise EngineConfigError(f"{name}={raw} is out of range: use a value from {low:g} to {high:g}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EngineConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise EngineConfigError(f"{name}={raw} is out of range: use a value from {low} to {high}")
    return value


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
        model = env.get("LOCAL_MODEL", "").strip() or "base"
        compute_type = env.get("LOCAL_COMPUTE_TYPE", "").strip().lower() or "int8"
        if compute_type not in COMPUTE_TYPES:
            raise EngineConfigError(
                f"LOCAL_COMPUTE_TYPE={compute_type!r} is not one of {', '.join(sorted(COMPUTE_TYPES))}"
            )
        settings = cls(
            model=model,
            compute_type=compute_type,
            threads=_int(env, "LOCAL_THREADS", _usable_cpus(), 1, 256),
            beam_size=_int(env, "LOCAL_BEAM_SIZE", 1, 1, 10),
            partial_interval=_float(env, "LOCAL_PARTIAL_INTERVAL", 1.0, 0.0, 60.0),
            vad_threshold=_float(env, "LOCAL_VAD_THRESHOLD", 0.5, 0.05, 0.95),
            end_silence=_float(env, "LOCAL_END_SILENCE", 0.3, 0.1, 5.0),
            speculate_after=_float(env, "LOCAL_SPECULATE_AFTER", 0.1, 0.0, 5.0),
            prompt_tokens=_int(env, "LOCAL_PROMPT_TOKENS", 64, 0, MAX_PREVIOUS),
            preroll=_float(env, "LOCAL_PREROLL", 0.3, 0.0, 2.0),
            min_speech=_float(env, "LOCAL_MIN_SPEECH", 0.15, 0.0, 2.0),
            max_utterance=_float(env, "LOCAL_MAX_UTTERANCE", 25.0, 2.0, 28.0),
            final_pad=_float(env, "LOCAL_FINAL_PAD", 3.0, 0.0, WINDOW_SECONDS),
            no_speech_threshold=_float(env, "LOCAL_NO_SPEECH_THRESHOLD", 0.6, 0.0, 1.0),
        )
        if settings.max_utterance + settings.preroll > WINDOW_SECONDS - 1.0:
            raise EngineConfigError(
                "LOCAL_MAX_UTTERANCE + LOCAL_PREROLL must stay under 29 s (Whisper's 30 s window)"
            )
        return settings
