"""OpenAI speech-to-text settings: server-wide from the environment, per call from ``customConfig``.

What a model can return differs: ``whisper-1`` gives real word timestamps (``verbose_json``),
``gpt-4o*-transcribe`` give token log-probabilities but no times. Which model gets which request
is configuration, not guesswork, so an OpenAI-compatible server (``OPENAI_BASE_URL``) with its
own model names can be described too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...envparse import EnvReader
from ..base import EngineConfigError
from ..languages import DEFAULT_OPENAI_LANGUAGES

__all__ = ["CallOptions", "OpenAISettings", "parse_call_options"]

_MODELS = ("gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1")


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """Server-wide settings; see ``docs/engines-cloud.md`` for the table of variables."""

    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini-transcribe"
    models: tuple[str, ...] = _MODELS
    word_timestamp_models: tuple[str, ...] = ("whisper-1",)
    logprob_models: tuple[str, ...] = ("gpt-4o-mini-transcribe", "gpt-4o-transcribe")
    languages: tuple[str, ...] = DEFAULT_OPENAI_LANGUAGES
    timeout: float = 15.0
    max_retries: int = 3
    retry_base: float = 0.5
    retry_max: float = 8.0
    max_concurrency: int = 4
    vad: str = "silero"
    vad_threshold: float = 0.5
    min_silence: float = 0.5
    min_speech: float = 0.25
    max_utterance: float = 20.0
    pad: float = 0.2
    fallback_confidence: float = 0.9

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OpenAISettings:
        read = EnvReader(env, error=EngineConfigError)
        model = read.text("OPENAI_STT_MODEL", "gpt-4o-mini-transcribe")
        models = read.words("OPENAI_STT_MODELS", _MODELS)
        if model not in models:
            raise EngineConfigError(f"OPENAI_STT_MODEL={model!r} is not one of OPENAI_STT_MODELS ({', '.join(models)})")
        settings = cls(
            api_key=read.secret("OPENAI_API_KEY"),
            base_url=read.text("OPENAI_BASE_URL") or None,
            model=model,
            models=models,
            word_timestamp_models=read.words("OPENAI_STT_WORD_TIMESTAMP_MODELS", ("whisper-1",)),
            logprob_models=read.words("OPENAI_STT_LOGPROB_MODELS", ("gpt-4o-mini-transcribe", "gpt-4o-transcribe")),
            languages=read.words("OPENAI_STT_LANGUAGES", DEFAULT_OPENAI_LANGUAGES),
            timeout=read.number("OPENAI_STT_TIMEOUT_S", 15.0, low=0.05),
            max_retries=int(read.number("OPENAI_STT_MAX_RETRIES", 3, low=0)),
            retry_base=read.number("OPENAI_STT_RETRY_BASE_S", 0.5, low=0.0),
            retry_max=read.number("OPENAI_STT_RETRY_MAX_S", 8.0, low=0.0),
            max_concurrency=int(read.number("OPENAI_STT_MAX_CONCURRENCY", 4, low=1)),
            vad=read.choice("OPENAI_STT_VAD", "silero", ("silero", "energy")),
            vad_threshold=read.number("OPENAI_STT_VAD_THRESHOLD", 0.5, low=0.0, high=1.0),
            min_silence=read.number("OPENAI_STT_MIN_SILENCE_S", 0.5, low=0.05),
            min_speech=read.number("OPENAI_STT_MIN_SPEECH_S", 0.25, low=0.0),
            max_utterance=read.number("OPENAI_STT_MAX_UTTERANCE_S", 20.0, low=1.0),
            pad=read.number("OPENAI_STT_PAD_S", 0.2, low=0.0),
            fallback_confidence=read.number("OPENAI_STT_FALLBACK_CONFIDENCE", 0.9, low=0.0),
        )
        return settings


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What one call may choose through ``customConfig`` (documented in ``docs/engines-cloud.md``)."""

    model: str
    prompt: str | None = None


def parse_call_options(options: Mapping[str, Any], settings: OpenAISettings) -> CallOptions:
    """Validate the OpenAI-relevant keys of ``customConfig``; other keys belong to others."""
    model = options.get("model", settings.model)
    if not isinstance(model, str) or model not in settings.models:
        raise EngineConfigError(
            f"customConfig.model={model!r} is not an OpenAI transcription model enabled on this server; "
            f"use one of: {', '.join(settings.models)}"
        )
    prompt = options.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > 2000):
        raise EngineConfigError("customConfig.prompt must be a string of at most 2000 characters")
    return CallOptions(model=model, prompt=prompt or None)
