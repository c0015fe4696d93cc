"""One attempt to deliver one event: the HTTP request and what its answer means.

The body is the payload as compact JSON (UTF-8), signed as sent. The answer is classified:

* 2xx: delivered.
* 408, 425, 429 and 5xx, a timeout, a connection that fails or breaks: the receiver is busy or
  away; retried. ``Retry-After`` (seconds or an HTTP date) is honoured, capped at ``retry_max``.
* Any other answer (another 4xx, a 3xx; redirects are not followed, since a signed body must not
  go to a host nobody configured): retried as well, but logged as a *refusal*. A receiver that
  answers 400 or 404 is usually misconfigured or mid-deployment, and the outbox promises
  at-least-once; giving up at once would lose data that a fix on their side would have received.
  So it is treated like an outage until the delivery's max age, when it is dead-lettered and can
  be re-driven through the API.
* 401 with OAuth: the cached token is dropped and the request sent once more with a new one.

Each request (and each token fetch) is bounded by ``timeout`` in all, not only between bytes, so
a receiver that trickles its answer cannot hold a delivery; a whole attempt by twice that (the
settings keep the lease longer). Only the first 64 KiB of an answer are read. Proxies come from
the environment (``HTTPS_PROXY``, ``NO_PROXY``), as httpx reads them.
"""

from __future__ import annotations

import email.utils
import json
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx2
import trio

from .. import __version__
from ..store.records import Delivery, Subscription
from .auth import OAuthError, TokenCache, read_limited, tls_context
from .signing import webhook_headers

__all__ = ["USER_AGENT", "Outcome", "Reason", "WebhookClient", "encode_body", "retry_after_seconds"]

USER_AGENT = f"audiohook-connector/{__version__}"
_MAX_ANSWER = 64 * 1024
_TRANSIENT = frozenset({408, 425, 429})

Reason = Literal["timeout", "network", "throttled", "server_error", "refused", "auth", "error", "disabled"]
"""Why an attempt failed, as a small fixed set (a metrics label): ``throttled`` is 429,
``server_error`` 5xx/408/425, ``refused`` any other non-2xx, ``auth`` no OAuth token, ``disabled``
the subscription is switched off (nothing was sent)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went."""

    delivered: bool
    seconds: float
    """From sending to the answer (or the failure), token fetch included."""
    status: int | None = None
    reason: Reason | None = None
    """``None`` when delivered."""
    error: str | None = None
    """For the store and the log: ``HTTP 503``, ``ConnectError``, ``timeout``... never a secret or a body."""
    retry_after: float | None = None
    """Seconds the receiver asked us to wait (capped at ``retry_max``)."""


def encode_body(delivery: Delivery) -> bytes:
    """The payload as compact UTF-8 JSON: exactly the bytes signed and sent."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def retry_after_seconds(value: str | None, *, now: datetime, cap: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (RFC 9110 §10.2.3: seconds or an HTTP date), within 0..``cap``."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), cap)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), cap) if math.isfinite(seconds) else None


class WebhookClient:
    """Sends deliveries over ``httpx2`` (on trio): one connection pool per TLS configuration."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        retry_max: float = 300.0,
        clock: Callable[[], float] = trio.current_time,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        user_agent: str = USER_AGENT,
        max_connections: int = 100,
    ) -> None:
        self.timeout = timeout
        self.attempt_budget = 2 * timeout
        """One attempt in all: a token fetch and the request, or the retry after a refused token."""
        self.retry_max = retry_max
        self.clock = clock
        self.now = now
        self.user_agent = user_agent
        self._limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._pools: dict[int, tuple[ssl.SSLContext | None, httpx2.AsyncClient]] = {}
        self.tokens = TokenCache(self._http, timeout=timeout, clock=clock)

    def _http(self, context: ssl.SSLContext | None) -> httpx2.AsyncClient:
        """The pool for ``context`` (contexts are cached, so identity is the key)."""
        key = id(context)
        if key not in self._pools:
            client = httpx2.AsyncClient(
                verify=context if context is not None else True,
                timeout=httpx2.Timeout(self.timeout),
                limits=self._limits,
                follow_redirects=False,
            )
            self._pools[key] = (context, client)  # the context is kept so its id is not reused
        return self._pools[key][1]

    @property
    def pools(self) -> int:
        """Open connection pools (one per TLS configuration in use; 0 once closed)."""
        return len(self._pools)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for _context, client in pools:
            await client.aclose()

    async def send(self, subscription: Subscription, delivery: Delivery) -> Outcome:
        """One attempt (two requests when an OAuth token is refused once); never raises but for cancellation."""
        started = self.clock()
        body = encode_body(delivery)
        auth = subscription.auth
        try:
            http = self._http(tls_context(auth))
            with trio.fail_after(self.attempt_budget):
                status, retry_after = await self._post(http, subscription, delivery, body)
        except OAuthError as exc:
            return Outcome(False, self.clock() - started, reason="auth", error=f"OAuth token: {exc.reason}")
        except (trio.TooSlowError, httpx2.TimeoutException):
            return Outcome(False, self.clock() - started, reason="timeout", error="timeout")
        except (httpx2.TransportError, OSError) as exc:
            return Outcome(False, self.clock() - started, reason="network", error=type(exc).__name__)
        except (httpx2.HTTPError, httpx2.InvalidURL, ValueError) as exc:
            return Outcome(False, self.clock() - started, reason="error", error=type(exc).__name__)
        return self._classify(status, retry_after, self.clock() - started)

    async def _post(
        self, http: httpx2.AsyncClient, subscription: Subscription, delivery: Delivery, body: bytes
    ) -> tuple[int, str | None]:
        """POST once, or twice when the OAuth token is refused: the status and any ``Retry-After``."""
        auth = subscription.auth
        refreshed = False
        while True:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": self.user_agent,
                **webhook_headers(delivery.id, body, now=self.now(), secret=auth.signing_secret),
            }
            if auth.header_name and auth.header_value:
                headers[auth.header_name] = auth.header_value
            token = None
            if auth.oauth_token_url:
                token = await self.tokens.token(auth)
                headers["Authorization"] = f"Bearer {token}"
            with trio.fail_after(self.timeout):
                async with http.stream("POST", subscription.url, content=body, headers=headers) as response:
                    await read_limited(response, _MAX_ANSWER)  # so the connection can be reused
                    status = response.status_code
                    retry_after = response.headers.get("retry-after")
            if status == 401 and token is not None and not refreshed:
                self.tokens.invalidate(auth, token)  # expired or revoked early: one more try with a new one
                refreshed = True
                continue
            return status, retry_after

    def _classify(self, status: int, retry_after: str | None, seconds: float) -> Outcome:
        if 200 <= status < 300:
            return Outcome(True, seconds, status=status)
        wait = retry_after_seconds(retry_after, now=self.now(), cap=self.retry_max)
        reason: Reason
        if status == 429:
            reason = "throttled"
        elif status >= 500 or status in _TRANSIENT:
            reason = "server_error"
        else:
            reason = "refused"
        return Outcome(False, seconds, status=status, reason=reason, error=f"HTTP {status}", retry_after=wait)
