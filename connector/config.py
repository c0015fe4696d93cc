"""Server configuration from environment variables (and an optional ``.env`` file).

Every variable is listed in ``docs/configuration.md``. Validation happens once, at start-up,
and reports *all* problems together, so an operator fixes a deployment in one round trip.
Engine-specific variables are read by each engine's own ``create_engine(env)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .gc_tuning import FULL_COLLECTION_EVERY
from .nursery.limits import SessionLimits
from .security import ApiKey, parse_api_keys

__all__ = ["ConfigError", "Settings", "load_environment"]

T = TypeVar("T")


class ConfigError(Exception):
    """The configuration is invalid; the message lists every problem."""


def load_environment(env_file: str | None = ".env") -> dict[str, str]:
    """The process environment, with ``env_file`` values filling in what is not set."""
    merged: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _positive(parse: Callable[[str], T]) -> Callable[[str], T]:
    def parser(text: str) -> T:
        value = parse(text)
        if value <= 0:  # type: ignore[operator]
            raise ValueError("must be > 0")
        return value

    return parser


def _non_negative(parse: Callable[[str], T]) -> Callable[[str], T]:
    def parser(text: str) -> T:
        value = parse(text)
        if value < 0:  # type: ignore[operator]
            raise ValueError("must be >= 0")
        return value

    return parser


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be 0..65535")
    return value


def _path(text: str) -> str:
    if not text.startswith("/") or " " in text:
        raise ValueError("must start with '/' and contain no spaces")
    return text


def _choice(*choices: str) -> Callable[[str], str]:
    def parser(text: str) -> str:
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return parser


def _csv(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _language(text: str) -> str:
    from .protocol.messages import LANGUAGE_CODE

    if text and not LANGUAGE_CODE.match(text):
        raise ValueError("must look like en-US")
    return text


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces
    port: int = 8080
    path: str = "/audiohook"
    api_keys: tuple[ApiKey, ...] = ()
    allow_anonymous: bool = False
    auth_failure: str = "request"
    organization_allowlist: frozenset[str] | None = None
    clock_skew: float = 3.0
    signature_max_age: float = 10.0
    nonce_min_length: int = 22
    engines: tuple[str, ...] = ("local",)
    default_engine: str = "local"
    default_language: str = ""
    worker_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    gc_interval: float = FULL_COLLECTION_EVERY
    """Seconds between the scheduled full garbage collections (see connector/gc_tuning.py)."""
    limits: SessionLimits = field(default_factory=SessionLimits)
    handshake_timeout: float = 10.0
    drain_timeout: float = 30.0
    max_sessions: int = 0
    translator: str = ""
    log_level: str = "INFO"
    log_format: str = "json"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        errors: list[str] = []
        values: dict[str, object] = {}
        limits: dict[str, object] = {}

        def read(name: str, attr: str, parse: Callable[[str], object], into: dict[str, object] = values) -> None:
            raw = env.get(name)
            if raw is None or raw == "":
                return
            try:
                into[attr] = parse(raw.strip())
            except ValueError as exc:
                errors.append(f"{name}: {exc}")

        read("CONNECTOR_HOST", "host", str)
        read("CONNECTOR_PORT", "port", _port)
        read("CONNECTOR_PATH", "path", _path)
        read("CONNECTOR_API_KEYS", "api_keys", lambda t: tuple(parse_api_keys(t)))
        read("CONNECTOR_ALLOW_ANONYMOUS", "allow_anonymous", _bool)
        read("CONNECTOR_AUTH_FAILURE", "auth_failure", _choice("request", "session"))
        read("CONNECTOR_ORG_ALLOWLIST", "organization_allowlist", lambda t: frozenset(x.lower() for x in _csv(t)))
        read("CONNECTOR_CLOCK_SKEW", "clock_skew", _non_negative(float))
        read("CONNECTOR_SIGNATURE_MAX_AGE", "signature_max_age", _positive(float))
        read("CONNECTOR_NONCE_MIN_LENGTH", "nonce_min_length", _non_negative(int))
        read("CONNECTOR_ENGINES", "engines", _csv)
        read("CONNECTOR_DEFAULT_ENGINE", "default_engine", str)
        read("CONNECTOR_DEFAULT_LANGUAGE", "default_language", _language)
        read("CONNECTOR_WORKER_THREADS", "worker_threads", _positive(int))
        read("CONNECTOR_GC_INTERVAL", "gc_interval", _positive(float))
        read("CONNECTOR_EVENT_RATE", "event_rate", _positive(float), limits)
        read("CONNECTOR_EVENT_BURST", "event_burst", _positive(float), limits)
        read("CONNECTOR_EVENT_BATCH_THRESHOLD", "event_batch_threshold", _non_negative(int), limits)
        read("CONNECTOR_MAX_QUEUED_EVENTS", "max_queued_events", _positive(int), limits)
        read("CONNECTOR_SEND_PARTIALS", "send_partials", _bool, limits)
        read("CONNECTOR_MAX_BUFFERED_AUDIO", "max_buffered_audio", _positive(float), limits)
        read("CONNECTOR_ENGINE_CHUNK", "engine_chunk", _non_negative(float), limits)
        read("CONNECTOR_ENGINE_STOP_TIMEOUT", "engine_stop_timeout", _positive(float), limits)
        read("CONNECTOR_OPEN_TIMEOUT", "open_timeout", _positive(float), limits)
        read("CONNECTOR_CLOSE_TIMEOUT", "close_timeout", _positive(float), limits)
        read("CONNECTOR_SEND_TIMEOUT", "send_timeout", _positive(float), limits)
        read("CONNECTOR_IDLE_TIMEOUT", "idle_timeout", _positive(float), limits)
        read("CONNECTOR_HANDSHAKE_TIMEOUT", "handshake_timeout", _positive(float))
        read("CONNECTOR_DRAIN_TIMEOUT", "drain_timeout", _non_negative(float))
        read("CONNECTOR_MAX_SESSIONS", "max_sessions", _non_negative(int))
        read("CONNECTOR_TRANSLATOR", "translator", str)
        read("CONNECTOR_LOG_LEVEL", "log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR"))
        read("CONNECTOR_LOG_FORMAT", "log_format", _choice("json", "text"))

        settings = cls(**values, limits=SessionLimits(**limits))  # type: ignore[arg-type]
        if not settings.engines:
            errors.append("CONNECTOR_ENGINES: at least one engine must be enabled")
        elif settings.default_engine not in settings.engines and not any(":" in e for e in settings.engines):
            # (``module:function`` engines are named by their factory; the registry checks those.)
            errors.append(f"CONNECTOR_DEFAULT_ENGINE: {settings.default_engine!r} is not in CONNECTOR_ENGINES")
        if settings.limits.event_burst < 1:
            errors.append("CONNECTOR_EVENT_BURST: must be >= 1")
        if not settings.api_keys and not settings.allow_anonymous:
            errors.append(
                "CONNECTOR_API_KEYS: no API keys configured; set CONNECTOR_API_KEYS=key[:base64secret],... "
                "or CONNECTOR_ALLOW_ANONYMOUS=true for a trial without authentication"
            )
        if errors:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
        return settings
