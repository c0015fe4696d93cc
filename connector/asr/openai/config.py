"""OpenAI speech-to-text settings: server-wide from the environment, per call from ``customConfig``.

What a model can return differs: ``whisper-1`` gives real word timestamps (``verbose_json``),
``gpt-4o*-transcribe`` give token log-probabilities but no times. Which model gets which request
is configuration, not guesswork, so an OpenAI-compatible server (``OPENAI_BASE_URL``) with its
own model names can be described too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import EngineConfigError
from ..envparse import env_list, env_number
from ..languages import DEFAULT_OPENAI_LANGUAGES

__all__ = ["CallOptions", "OpenAISettings", "parse_call_options"]

_MODELS = ("gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1")


def _secret(env: Mapping[str, str], key: str) -> str | None:
    """A secret from ``KEY`` or from the file named by ``KEY_FILE`` (never from the repo)."""
    value = env.get(key, "").strip()
    if value:
        return value
    path = env.get(f"{key}_FILE", "").strip()
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise EngineConfigError(f"{key}_FILE={path!r} cannot be read ({exc.strerror})") from None


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
        model = env.get("OPENAI_STT_MODEL", "").strip() or "gpt-4o-mini-transcribe"
        models = env_list(env, "OPENAI_STT_MODELS", _MODELS)
        if model not in models:
            raise EngineConfigError(f"OPENAI_STT_MODEL={model!r} is not one of OPENAI_STT_MODELS ({', '.join(models)})")
        vad = env.get("OPENAI_STT_VAD", "").strip().lower() or "silero"
        if vad not in ("silero", "energy"):
            raise EngineConfigError(f"OPENAI_STT_VAD must be 'silero' or 'energy', not {vad!r}")
        settings = cls(
            api_key=_secret(env, "OPENAI_API_KEY"),
            base_url=env.get("OPENAI_BASE_URL", "").strip() or None,
            model=model,
            models=models,
            word_timestamp_models=env_list(env, "OPENAI_STT_WORD_TIMESTAMP_MODELS", ("whisper-1",)),
            logprob_models=env_list(env, "OPENAI_STT_LOGPROB_MODELS", ("gpt-4o-mini-transcribe", "gpt-4o-transcribe")),
            languages=env_list(env, "OPENAI_STT_LANGUAGES", DEFAULT_OPENAI_LANGUAGES),
            timeout=env_number(env, "OPENAI_STT_TIMEOUT_S", 15.0, 0.05),
            max_retries=int(env_number(env, "OPENAI_STT_MAX_RETRIES", 3, 0)),
            retry_base=env_number(env, "OPENAI_STT_RETRY_BASE_S", 0.5, 0.0),
            retry_max=env_number(env, "OPENAI_STT_RETRY_MAX_S", 8.0, 0.0),
            max_concurrency=int(env_number(env, "OPENAI_STT_MAX_CONCURRENCY", 4, 1)),
            vad=vad,
            vad_threshold=env_number(env, "OPENAI_STT_VAD_THRESHOLD", 0.5, 0.0),
            min_silence=env_number(env, "OPENAI_STT_MIN_SILENCE_S", 0.5, 0.05),
            min_speech=env_number(env, "OPENAI_STT_MIN_SPEECH_S", 0.25, 0.0),
            max_utterance=env_number(env, "OPENAI_STT_MAX_UTTERANCE_S", 20.0, 1.0),
            pad=env_number(env, "OPENAI_STT_PAD_S", 0.2, 0.0),
            fallback_confidence=env_number(env, "OPENAI_STT_FALLBACK_CONFIDENCE", 0.9, 0.0),
        )
        if settings.vad_threshold > 1:
            raise EngineConfigError("OPENAI_STT_VAD_THRESHOLD must be between 0 and 1")
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
