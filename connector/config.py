"""Server configuration from environment variables (and an optional ``.env`` file).

Every variable is listed in ``docs/configuration.md``. Validation happens once, at start-up,
and reports *all* problems together, so an operator fixes a deployment in one round trip.
Engine-specific variables are read by each engine's own ``create_engine(env)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .envparse import ConfigError, EnvReader
from .gc_tuning import FULL_COLLECTION_EVERY
from .limits import SessionLimits
from .redaction import Mode, parse_mode
from .security import ApiKey, parse_api_keys

__all__ = ["ConfigError", "Settings", "load_environment"]


def load_environment(env_file: str | None = ".env") -> dict[str, str]:
    """The process environment, with ``env_file`` values filling in what is not set."""
    merged: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def _path(text: str) -> str:
    if not text.startswith("/") or " " in text:
        raise ValueError("must start with '/' and contain no spaces")
    return text


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
    transcribe: str = "always"
    redaction: Mode = "stored"
    """``off``, ``stored`` (the store and webhooks) or ``all`` (also what Genesys gets); a call may
    choose its own with ``customConfig.redaction`` (docs/redaction.md)."""
    """``always``: transcribe from ``open``; ``on-start``: only after the control API's start."""
    log_level: str = "INFO"
    log_format: str = "json"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        read = EnvReader(env, collect=True)
        default, limit = cls(), SessionLimits()
        allowlist = read.words("CONNECTOR_ORG_ALLOWLIST", None)
        limits = SessionLimits(
            event_rate=read.number("CONNECTOR_EVENT_RATE", limit.event_rate, above=0),
            event_burst=read.number("CONNECTOR_EVENT_BURST", limit.event_burst, low=1),
            event_batch_threshold=read.integer("CONNECTOR_EVENT_BATCH_THRESHOLD", limit.event_batch_threshold, low=0),
            max_queued_events=read.integer("CONNECTOR_MAX_QUEUED_EVENTS", limit.max_queued_events, low=1),
            send_partials=read.flag("CONNECTOR_SEND_PARTIALS", limit.send_partials),
            max_buffered_audio=read.number("CONNECTOR_MAX_BUFFERED_AUDIO", limit.max_buffered_audio, above=0),
            engine_chunk=read.number("CONNECTOR_ENGINE_CHUNK", limit.engine_chunk, low=0),
            engine_stop_timeout=read.number("CONNECTOR_ENGINE_STOP_TIMEOUT", limit.engine_stop_timeout, above=0),
            open_timeout=read.number("CONNECTOR_OPEN_TIMEOUT", limit.open_timeout, above=0),
            close_timeout=read.number("CONNECTOR_CLOSE_TIMEOUT", limit.close_timeout, above=0),
            send_timeout=read.number("CONNECTOR_SEND_TIMEOUT", limit.send_timeout, above=0),
            idle_timeout=read.number("CONNECTOR_IDLE_TIMEOUT", limit.idle_timeout, above=0),
        )
        settings = cls(
            host=read.text("CONNECTOR_HOST", default.host),
            port=read.integer("CONNECTOR_PORT", default.port, low=0, high=65535),
            path=read.parsed("CONNECTOR_PATH", default.path, _path),
            api_keys=read.parsed("CONNECTOR_API_KEYS", default.api_keys, parse_api_keys),
            allow_anonymous=read.flag("CONNECTOR_ALLOW_ANONYMOUS", default.allow_anonymous),
            auth_failure=read.choice("CONNECTOR_AUTH_FAILURE", default.auth_failure, ("request", "session")),
            organization_allowlist=None if allowlist is None else frozenset(x.lower() for x in allowlist),
            clock_skew=read.number("CONNECTOR_CLOCK_SKEW", default.clock_skew, low=0),
            signature_max_age=read.number("CONNECTOR_SIGNATURE_MAX_AGE", default.signature_max_age, above=0),
            nonce_min_length=read.integer("CONNECTOR_NONCE_MIN_LENGTH", default.nonce_min_length, low=0),
            engines=read.words("CONNECTOR_ENGINES", default.engines),
            default_engine=read.text("CONNECTOR_DEFAULT_ENGINE", default.default_engine),
            default_language=read.parsed("CONNECTOR_DEFAULT_LANGUAGE", default.default_language, _language),
            worker_threads=read.integer("CONNECTOR_WORKER_THREADS", default.worker_threads, low=1),
            gc_interval=read.number("CONNECTOR_GC_INTERVAL", default.gc_interval, above=0),
            limits=limits,
            handshake_timeout=read.number("CONNECTOR_HANDSHAKE_TIMEOUT", default.handshake_timeout, above=0),
            drain_timeout=read.number("CONNECTOR_DRAIN_TIMEOUT", default.drain_timeout, low=0),
            max_sessions=read.integer("CONNECTOR_MAX_SESSIONS", default.max_sessions, low=0),
            translator=read.text("CONNECTOR_TRANSLATOR", default.translator),
            transcribe=read.choice("CONNECTOR_TRANSCRIBE", default.transcribe, ("always", "on-start")),
            redaction=read.parsed("CONNECTOR_REDACTION", default.redaction, parse_mode),
            log_level=read.choice("CONNECTOR_LOG_LEVEL", default.log_level, ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_format=read.choice("CONNECTOR_LOG_FORMAT", default.log_format, ("json", "text")),
        )
        if not settings.engines:
            read.problem("CONNECTOR_ENGINES: at least one engine must be enabled")
        elif settings.default_engine not in settings.engines and not any(":" in e for e in settings.engines):
            # (``module:function`` engines are named by their factory; the registry checks those.)
            read.problem(f"CONNECTOR_DEFAULT_ENGINE: {settings.default_engine!r} is not in CONNECTOR_ENGINES")
        if not settings.api_keys and not settings.allow_anonymous:
            read.problem(
                "CONNECTOR_API_KEYS: no API keys configured; set CONNECTOR_API_KEYS=key[:base64secret],... "
                "or CONNECTOR_ALLOW_ANONYMOUS=true for a trial without authentication"
            )
        read.raise_problems()
        return settings
