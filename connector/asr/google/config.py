"""Google Speech v2 settings: server-wide ones from the environment, per-call ones from ``customConfig``.

Every setting has a default that works against the real service once credentials exist, and
every bad value is reported as :class:`EngineConfigError` naming the variable to fix, so a
misconfigured engine fails loudly instead of quietly transcribing with something else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...envparse import EnvReader
from ..base import EngineConfigError
from ..languages import DEFAULT_GOOGLE_LANGUAGES

__all__ = ["KNOWN_MODELS", "CallOptions", "GoogleSettings", "parse_call_options"]

KNOWN_MODELS: tuple[str, ...] = (
    "chirp_3", "chirp_2", "chirp", "long", "short", "telephony", "telephony_short",
    "medical_dictation", "medical_conversation", "latest_long", "latest_short",
)  # fmt: skip

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class GoogleSettings:
    """Server-wide settings; see ``docs/engines-cloud.md`` for the table of variables."""

    project: str | None = None
    credentials_file: str | None = None
    location: str = "us-central1"
    endpoint: str = "us-central1-speech.googleapis.com"
    recognizer: str = "_"
    model: str = "chirp_2"
    models: tuple[str, ...] = KNOWN_MODELS
    languages: tuple[str, ...] = DEFAULT_GOOGLE_LANGUAGES
    insecure: bool = False
    stream_limit: float = 240.0
    overlap: float = 2.0
    replay: float = 30.0
    drain_timeout: float = 10.0
    max_retries: int = 5
    retry_base: float = 0.5
    retry_max: float = 8.0
    fallback_confidence: float = 0.9
    max_streams: int = 400
    interim_results: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GoogleSettings:
        read = EnvReader(env, error=EngineConfigError)
        location = read.text("GOOGLE_SPEECH_LOCATION", "us-central1")
        default_endpoint = "speech.googleapis.com" if location == "global" else f"{location}-speech.googleapis.com"
        model = read.text("GOOGLE_SPEECH_MODEL", "chirp_2")
        models = read.words("GOOGLE_SPEECH_MODELS", KNOWN_MODELS)
        if model not in models:
            raise EngineConfigError(
                f"GOOGLE_SPEECH_MODEL={model!r} is not one of GOOGLE_SPEECH_MODELS ({', '.join(models)})"
            )
        settings = cls(
            project=read.text("GOOGLE_CLOUD_PROJECT") or None,
            credentials_file=read.text("GOOGLE_APPLICATION_CREDENTIALS") or None,
            location=location,
            endpoint=read.text("GOOGLE_SPEECH_ENDPOINT", default_endpoint),
            recognizer=read.text("GOOGLE_SPEECH_RECOGNIZER", "_"),
            model=model,
            models=models,
            languages=read.words("GOOGLE_SPEECH_LANGUAGES", DEFAULT_GOOGLE_LANGUAGES),
            insecure=read.flag("GOOGLE_SPEECH_INSECURE", False),
            stream_limit=read.number("GOOGLE_SPEECH_STREAM_LIMIT_S", 240.0, low=1.0),
            overlap=read.number("GOOGLE_SPEECH_OVERLAP_S", 2.0, low=0.0),
            replay=read.number("GOOGLE_SPEECH_REPLAY_S", 30.0, low=1.0),
            drain_timeout=read.number("GOOGLE_SPEECH_DRAIN_TIMEOUT_S", 10.0, low=0.05),
            max_retries=int(read.number("GOOGLE_SPEECH_MAX_RETRIES", 5, low=0)),
            retry_base=read.number("GOOGLE_SPEECH_RETRY_BASE_S", 0.5, low=0.0),
            retry_max=read.number("GOOGLE_SPEECH_RETRY_MAX_S", 8.0, low=0.0),
            fallback_confidence=read.number("GOOGLE_SPEECH_FALLBACK_CONFIDENCE", 0.9, low=0.0),
            max_streams=int(read.number("GOOGLE_SPEECH_MAX_STREAMS", 400, low=1)),
            interim_results=read.flag("GOOGLE_SPEECH_INTERIM_RESULTS", True),
        )
        if settings.stream_limit > 290:
            raise EngineConfigError("GOOGLE_SPEECH_STREAM_LIMIT_S must stay below Google's 300 s stream limit")
        if settings.overlap * 2 >= settings.stream_limit:
            raise EngineConfigError("GOOGLE_SPEECH_OVERLAP_S must be less than half of GOOGLE_SPEECH_STREAM_LIMIT_S")
        if settings.replay < settings.overlap:
            raise EngineConfigError("GOOGLE_SPEECH_REPLAY_S must be at least GOOGLE_SPEECH_OVERLAP_S")
        if not _NAME.match(settings.recognizer):
            raise EngineConfigError(f"GOOGLE_SPEECH_RECOGNIZER={settings.recognizer!r} is not a recognizer id")
        return settings

    def recognizer_path(self, project: str) -> str:
        return f"projects/{project}/locations/{self.location}/recognizers/{self.recognizer}"


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What one call may choose through ``customConfig`` (documented in ``docs/engines-cloud.md``)."""

    model: str
    automatic_punctuation: bool = True
    profanity_filter: bool = False


def _bool_option(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise EngineConfigError(f"customConfig.{key} must be true or false, not {value!r}")
    return value


def parse_call_options(options: Mapping[str, Any], settings: GoogleSettings) -> CallOptions:
    """Validate the Google-relevant keys of ``customConfig``; other keys belong to others."""
    model = options.get("model", settings.model)
    if not isinstance(model, str) or model not in settings.models:
        raise EngineConfigError(
            f"customConfig.model={model!r} is not a Google Speech model enabled on this server; "
            f"use one of: {', '.join(settings.models)}"
        )
    return CallOptions(
        model=model,
        automatic_punctuation=_bool_option(options, "enableAutomaticPunctuation", True),
        profanity_filter=_bool_option(options, "profanityFilter", False),
    )
