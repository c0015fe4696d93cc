"""How to place one simulated call: identities, offers, pacing, injected events, timeouts.

Defaults follow the reference client and what Genesys is seen to send: stereo PCMU
``["external", "internal"]`` offered first, then each mono channel; 5 s to get ``opened``,
10 s to get ``closed``; first ``ping`` 1 s after ``opened`` and then every 5 s.
"""

from __future__ import annotations

import ssl
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connector.protocol.messages import NIL_UUID
from connector.security import sign_request
from connector.vocabulary import SAMPLE_RATE

__all__ = [
    "CallConfig",
    "DiscardAt",
    "ErrorAt",
    "Injection",
    "MediaOption",
    "PauseAt",
    "PauseMode",
    "UpdateAt",
    "media_offers",
    "upgrade_headers",
    "upgrade_target",
]

MediaOption = Literal["stereo", "inverted", "mono-external", "mono-internal"]
PauseMode = Literal["advance", "freeze"]

_CHANNEL_SETS: dict[str, list[list[str]]] = {
    "stereo": [["external", "internal"], ["external"], ["internal"]],
    "inverted": [["internal", "external"], ["external"], ["internal"]],
    "mono-external": [["external"]],
    "mono-internal": [["internal"]],
}


def _uuid() -> str:
    return str(uuid.uuid4())


def media_offers(option: MediaOption = "stereo", fmt: str = "PCMU") -> tuple[dict[str, Any], ...]:
    """The ``open.media`` list for a named option, in preference order."""
    if option not in _CHANNEL_SETS:
        raise ValueError(f"unknown media option {option!r}; choose one of {sorted(_CHANNEL_SETS)}")
    return tuple({"type": "audio", "format": fmt, "channels": ch, "rate": SAMPLE_RATE} for ch in _CHANNEL_SETS[option])


@dataclass(frozen=True, slots=True)
class PauseAt:
    """Client-initiated pause at stream position ``at`` for ``duration`` seconds of stream time."""

    at: float
    duration: float


@dataclass(frozen=True, slots=True)
class DiscardAt:
    """Skip ``duration`` seconds of audio at ``at`` and report it with ``discarded``."""

    at: float
    duration: float


@dataclass(frozen=True, slots=True)
class UpdateAt:
    """Send ``update {language}`` at ``at``."""

    at: float
    language: str


@dataclass(frozen=True, slots=True)
class ErrorAt:
    """Send a client ``error`` at ``at``: by default the 429 a rate-limited Genesys client sends."""

    at: float
    code: int = 429
    message: str = "Too many requests"
    retry_after: float | None = 1.0


Injection = PauseAt | DiscardAt | UpdateAt | ErrorAt


@dataclass(frozen=True)
class CallConfig:
    """One call. Identities default to fresh UUIDs; ``probe`` overrides them like Genesys does."""

    url: str
    api_key: str | None = None
    client_secret: str | None = None  # base64, as configured in the Genesys integration
    organization_id: str = field(default_factory=_uuid)
    session_id: str = field(default_factory=_uuid)
    correlation_id: str = field(default_factory=_uuid)
    conversation_id: str = field(default_factory=_uuid)
    participant_id: str = field(default_factory=_uuid)
    ani: str = "+15555550100"
    ani_name: str = "Simulated Caller"
    dnis: str = "+18005550199"
    language: str | None = "en-US"
    supported_languages: bool | None = None  # sent only when set; a probe always sends true
    custom_config: Mapping[str, Any] | None = None
    media: MediaOption = "stereo"
    offers: tuple[Mapping[str, Any], ...] | None = None  # explicit open.media, overrides `media`
    probe: bool = False
    speed: float = 1.0  # 1 = real time, N = N x faster, 0 = as fast as the socket takes it
    frame_ms: int = 100
    duration: float | None = None  # stop streaming after this many seconds of stream time
    pause_mode: PauseMode = "advance"
    injections: tuple[Injection, ...] = ()
    ping_interval: float | None = 5.0  # None: never ping
    initial_ping_delay: float = 1.0
    connect_timeout: float = 10.0
    open_timeout: float = 5.0
    close_timeout: float = 10.0
    send_timeout: float = 10.0
    react_to_errors: bool = True  # send `error` and close like the reference client does
    keep_messages: bool = False  # keep every parsed server message in the result
    extra_headers: tuple[tuple[str, str], ...] = ()
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {self.url!r}")
        if not 20 <= self.frame_ms <= 200:
            raise ValueError("frame_ms must be between 20 and 200")
        if self.speed < 0:
            raise ValueError("speed must be >= 0")
        if self.pause_mode not in ("advance", "freeze"):
            raise ValueError("pause_mode must be 'advance' or 'freeze'")
        if self.ping_interval is not None and self.ping_interval <= 0:
            raise ValueError("ping_interval must be positive (or None)")
        for name in ("connect_timeout", "open_timeout", "close_timeout", "send_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for inj in self.injections:
            if inj.at < 0 or getattr(inj, "duration", 0.0) < 0:
                raise ValueError(f"injection times must be >= 0: {inj}")
        media_offers(self.media)  # validates the option

    @property
    def media_offers(self) -> list[dict[str, Any]]:
        return [dict(o) for o in (self.offers if self.offers is not None else media_offers(self.media))]

    def open_parameters(self) -> dict[str, Any]:
        """``open.parameters`` as the Genesys client builds them (a probe blanks the call)."""
        params: dict[str, Any] = {
            "organizationId": self.organization_id,
            "conversationId": NIL_UUID if self.probe else self.conversation_id,
            "participant": {
                "id": NIL_UUID if self.probe else self.participant_id,
                "ani": "" if self.probe else self.ani,
                "aniName": "" if self.probe else self.ani_name,
                "dnis": "" if self.probe else self.dnis,
            },
            "media": self.media_offers,
        }
        if self.language is not None:
            params["language"] = self.language
        if self.probe or self.supported_languages is not None:
            params["supportedLanguages"] = True if self.probe else self.supported_languages
        if self.custom_config is not None:
            params["customConfig"] = dict(self.custom_config)
        return params


def upgrade_target(url: str) -> tuple[str, str]:
    """``(authority, request target)`` exactly as trio-websocket puts them on the wire.

    The signature covers ``@authority`` (the ``Host`` header) and ``@request-target``, so they
    must be derived the way the library derives them: lower-case host, ``:port`` unless the
    port is 80 or 443, the path (``/`` if empty) plus the query string.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port if parts.port is not None else (443 if parts.scheme == "wss" else 80)
    authority = host if port in (80, 443) else f"{host}:{port}"
    target = parts.path or "/"
    if "?" in url:
        target += "?" + parts.query
    return authority, target


def upgrade_headers(config: CallConfig) -> list[tuple[str, str]]:
    """The AudioHook upgrade headers, signed when a client secret is configured."""
    headers = [
        ("Audiohook-Organization-Id", config.organization_id),
        ("Audiohook-Session-Id", config.session_id),
        ("Audiohook-Correlation-Id", config.correlation_id),
    ]
    if config.api_key is not None:
        headers.append(("X-API-KEY", config.api_key))
    if config.client_secret:
        authority, target = upgrade_target(config.url)
        signed = sign_request(
            api_key=config.api_key or "",
            client_secret_b64=config.client_secret,
            host=authority,
            target=target,
            organization_id=config.organization_id,
            session_id=config.session_id,
            correlation_id=config.correlation_id,
        )
        headers.extend(signed.items())
    headers.extend(config.extra_headers)
    return headers
