"""Bearer tokens with scopes: who may call a route, decided in constant time.

Every presented token is hashed (SHA-256) and compared with the digest of *every* configured
token by :func:`hmac.compare_digest`, without stopping at a match: equal-length digests and a
fixed number of comparisons leave no timing hint of how much of a token was right, nor of which
entry matched. The decision is a pure function of the header (:meth:`TokenTable.decide`), so its
table is tested without a server; :meth:`TokenTable.check` turns it into the API's 401/403.
Tokens are never logged, and no error text contains one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from enum import Enum

from .errors import ApiError
from .settings import ApiToken, Scope

__all__ = ["BEARER_CHALLENGE", "TokenTable", "Verdict"]

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="audiohook-connector"'}


class Verdict(Enum):
    ALLOWED = "allowed"
    MISSING = "missing"
    """No ``Authorization`` header."""
    MALFORMED = "malformed"
    """Not ``Bearer <token>``."""
    UNKNOWN = "unknown"
    """A token no entry has."""
    FORBIDDEN = "forbidden"
    """A known token without the route's scope."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class TokenTable:
    """The configured tokens as digests; ``anonymous`` (no tokens, trial mode) allows everything."""

    def __init__(self, tokens: Iterable[ApiToken], *, anonymous: bool = False) -> None:
        self._entries = tuple((_digest(t.token), t.scopes) for t in tokens)
        self.anonymous = anonymous and not self._entries

    def decide(self, authorization: str | None, scope: Scope) -> Verdict:
        """What the ``Authorization`` header value allows for a route that needs ``scope``."""
        if self.anonymous:
            return Verdict.ALLOWED
        if authorization is None or not authorization.strip():
            return Verdict.MISSING
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            return Verdict.MALFORMED
        presented = _digest(token)
        granted: frozenset[Scope] | None = None
        for digest, scopes in self._entries:  # every entry, always: no early exit
            if hmac.compare_digest(presented, digest):
                granted = scopes
        if granted is None:
            return Verdict.UNKNOWN
        return Verdict.ALLOWED if scope in granted else Verdict.FORBIDDEN

    def check(self, authorization: str | None, scope: Scope) -> None:
        """Raise the API's 401 (with the ``Bearer`` challenge) or 403 unless the header allows ``scope``."""
        verdict = self.decide(authorization, scope)
        if verdict is Verdict.ALLOWED:
            return
        if verdict is Verdict.FORBIDDEN:
            raise ApiError(403, "forbidden", f"this token does not have the '{scope}' scope")
        info = {
            Verdict.MISSING: "missing 'Authorization: Bearer <token>' header",
            Verdict.MALFORMED: "the Authorization header must be 'Bearer <token>'",
            Verdict.UNKNOWN: "unknown token",
        }[verdict]
        raise ApiError(401, "unauthorized", info, headers=BEARER_CHALLENGE)
