"""The control API's settings from ``CONNECTOR_API_*`` (all listed in ``docs/api.md``).

Read the way every other setting is (:class:`~connector.envparse.EnvReader`, all problems reported
at once), so a deployment with a short token and a bad port is fixed in one round trip. Tokens
are never echoed in a message: a bad one is named by its position (``entry 2``, ``line 3``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ..envparse import ConfigError, EnvReader

__all__ = ["MIN_TOKEN_LENGTH", "ApiSettings", "ApiToken", "ConfigError", "Scope", "parse_token"]

MIN_TOKEN_LENGTH = 16
_ANY_HOST = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces


class Scope(StrEnum):
    """What a token may do: ``read`` conversations and exports, ``control`` start and stop."""

    READ = "read"
    CONTROL = "control"


_SCOPES: dict[str, frozenset[Scope]] = {
    "read": frozenset({Scope.READ}),
    "control": frozenset({Scope.CONTROL}),
    "read+control": frozenset({Scope.READ, Scope.CONTROL}),
    "control+read": frozenset({Scope.READ, Scope.CONTROL}),
}


@dataclass(frozen=True)
class ApiToken:
    """One bearer token and its scopes; ``repr`` leaves the token out so it never reaches a log."""

    token: str = field(repr=False)
    scopes: frozenset[Scope]


def parse_token(entry: str) -> ApiToken:
    """``scopes:token`` → :class:`ApiToken`; the :class:`ValueError` never contains the token."""
    scopes, sep, token = entry.strip().partition(":")
    if not sep or scopes.strip().lower() not in _SCOPES:
        raise ValueError("must be scopes:token with scopes read, control or read+control")
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError(
            f"the token must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without spaces "
            "(it is sent as 'Authorization: Bearer <token>')"
        )
    return ApiToken(token=token, scopes=_SCOPES[scopes.strip().lower()])


@dataclass(frozen=True)
class ApiSettings:
    enabled: bool = True
    host: str = _ANY_HOST
    port: int = 8081
    """0 picks a free port (tests); :func:`~connector.api.serve.serve_api` reports the bound one."""
    tokens: tuple[ApiToken, ...] = ()
    allow_anonymous: bool = False
    max_body: int = 65536
    """Bytes a request body may have (checked on ``Content-Length`` and on the bytes received)."""
    apply_wait: float = 1.0
    """Seconds a start/stop waits for a live session to report that it applied the request."""

    @property
    def anonymous(self) -> bool:
        """No tokens and ``CONNECTOR_ALLOW_ANONYMOUS``: every route is open (a trial, never exposed)."""
        return not self.tokens and self.allow_anonymous

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        """Read ``CONNECTOR_API_*``; raise :class:`ConfigError` listing every problem."""
        read = EnvReader(env, collect=True)
        default = cls()
        before = len(read.problems or ())
        tokens = [*_tokens_from_list(read), *_tokens_from_file(read)]
        bad_tokens = len(read.problems or ()) > before
        settings = cls(
            enabled=read.flag("CONNECTOR_API_ENABLED", default.enabled),
            host=read.text("CONNECTOR_API_HOST", read.text("CONNECTOR_HOST", default.host)),
            port=read.integer("CONNECTOR_API_PORT", default.port, low=0, high=65535),
            tokens=tuple(tokens),
            allow_anonymous=read.flag("CONNECTOR_ALLOW_ANONYMOUS", default.allow_anonymous),
            max_body=read.integer("CONNECTOR_API_MAX_BODY", default.max_body, low=1024, high=16 * 1024 * 1024),
            apply_wait=read.number("CONNECTOR_API_APPLY_WAIT", default.apply_wait, low=0, high=30),
        )
        if len({t.token for t in tokens}) != len(tokens):
            read.problem("CONNECTOR_API_TOKENS: a token is listed twice (give each token its scopes once)")
        if settings.enabled and not tokens and not bad_tokens and not settings.allow_anonymous:
            read.problem(
                "CONNECTOR_API_TOKENS: no API tokens configured; set CONNECTOR_API_TOKENS=read+control:<token>,... "
                f"(or CONNECTOR_API_TOKENS_FILE, one per line; tokens of at least {MIN_TOKEN_LENGTH} characters), "
                "CONNECTOR_ALLOW_ANONYMOUS=true for a trial without authentication, "
                "or CONNECTOR_API_ENABLED=false"
            )
        read.raise_problems()
        return settings


def _tokens_from_list(read: EnvReader) -> list[ApiToken]:
    tokens = []
    for number, entry in enumerate(read.words("CONNECTOR_API_TOKENS", ()), start=1):
        try:
            tokens.append(parse_token(entry))
        except ValueError as exc:
            read.problem(f"CONNECTOR_API_TOKENS: entry {number}: {exc}")
    return tokens


def _tokens_from_file(read: EnvReader) -> list[ApiToken]:
    """``CONNECTOR_API_TOKENS_FILE``: one ``scopes:token`` a line; blank lines and ``#`` comments skipped."""
    path = read.text("CONNECTOR_API_TOKENS_FILE")
    if not path:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        read.problem(f"CONNECTOR_API_TOKENS_FILE: {path!r} cannot be read ({why})")
        return []
    tokens = []
    for number, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        try:
            tokens.append(parse_token(entry))
        except ValueError as exc:
            read.problem(f"CONNECTOR_API_TOKENS_FILE: line {number}: {exc}")
    return tokens
