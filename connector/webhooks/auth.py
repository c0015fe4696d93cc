"""How a delivery proves who sends it, beyond the signature: TLS contexts and OAuth2 tokens.

TLS. A subscription with ``ca_file`` trusts only that bundle for its target (a private CA), and
one with ``client_cert_file`` (and ``client_key_file``, unless the key is in the same PEM)
presents that certificate (mutual TLS). Contexts are built once per set of files and cached: they
are loaded when the settings are read, so a missing or broken file fails the start. (A renewed
certificate is picked up by a restart.)

OAuth2 client credentials (RFC 6749 §4.4). One token per (token URL, client id, scope), fetched on
first use, kept until 60 s before ``expires_in`` runs out (half its lifetime if that is shorter;
an hour when the server does not say), and fetched again early when the target answers 401 with
it. Concurrent deliveries share one fetch. The client authenticates with HTTP Basic, which every
authorization server must support (§2.3.1), its id and secret form-encoded first as the RFC says.
The token endpoint is verified against the default trust store plus the subscription's
``ca_file`` (an identity provider inside the same private PKI), without the client certificate.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx2
import trio

from ..store.records import WebhookAuth

__all__ = ["OAuthError", "TlsError", "TokenCache", "read_limited", "tls_context", "token_tls_context"]

_MAX_TOKEN_RESPONSE = 64 * 1024
_DEFAULT_LIFETIME = 3600.0
_MARGIN = 60.0


class TlsError(ValueError):
    """A certificate or key file cannot be loaded (the message names the setting and the file)."""


class OAuthError(Exception):
    """No token: the endpoint failed or answered something else than a bearer token.

    ``reason`` is short and never holds a secret (``HTTP 401``, ``ConnectError``, ``timeout``...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def tls_context(auth: WebhookAuth) -> ssl.SSLContext | None:
    """The context for deliveries to the subscription's target (``None``: the default one)."""
    if not (auth.ca_file or auth.client_cert_file):
        return None
    return _context(auth.ca_file, auth.client_cert_file, auth.client_key_file, only_ca=True)


def token_tls_context(auth: WebhookAuth) -> ssl.SSLContext | None:
    """The context for the subscription's token endpoint (``None``: the default one)."""
    if not auth.ca_file:
        return None
    return _context(auth.ca_file, None, None, only_ca=False)


@functools.lru_cache(maxsize=256)
def _context(ca_file: str | None, cert_file: str | None, key_file: str | None, *, only_ca: bool) -> ssl.SSLContext:
    """Build (once) a verifying client context; failures are not cached."""
    if only_ca and ca_file:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, certificate required
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # trusting ``ca_file`` alone (loaded below)
    else:
        context = httpx2.create_ssl_context()  # the default trust, as deliveries without files use
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"caFile: {ca_file!r} cannot be loaded as PEM certificates ({_why(exc)})") from None
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            files = f"{cert_file!r}" + (f" with {key_file!r}" if key_file else "")
            raise TlsError(f"clientCert: {files} cannot be loaded as a certificate and key ({_why(exc)})") from None
    return context


def _why(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or type(exc).__name__
    return exc.strerror or type(exc).__name__


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    fresh_until: float
    """On the trio clock."""


_Key = tuple[str, str, str | None]


class TokenCache:
    """OAuth2 client-credentials tokens, cached per (token URL, client id, scope)."""

    def __init__(
        self,
        http: Callable[[ssl.SSLContext | None], httpx2.AsyncClient],
        *,
        timeout: float,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._http = http
        self.timeout = timeout
        self.clock = clock
        self._tokens: dict[_Key, _Token] = {}
        self._locks: dict[_Key, trio.Lock] = {}
        self.fetches = 0

    @staticmethod
    def _key(auth: WebhookAuth) -> _Key:
        if not (auth.oauth_token_url and auth.oauth_client_id and auth.oauth_client_secret):
            raise ValueError("the subscription has no OAuth2 client credentials")
        return auth.oauth_token_url, auth.oauth_client_id, auth.oauth_scope

    async def token(self, auth: WebhookAuth) -> str:
        """A bearer token for ``auth``: the cached one while fresh, else one fetch shared by all callers."""
        key = self._key(auth)
        token = self._tokens.get(key)
        if token is not None and self.clock() < token.fresh_until:
            return token.value
        lock = self._locks.setdefault(key, trio.Lock())
        async with lock:
            token = self._tokens.get(key)  # someone else may have fetched it while we waited
            if token is None or self.clock() >= token.fresh_until:
                token = await self._fetch(auth)
                self._tokens[key] = token
            return token.value

    def invalidate(self, auth: WebhookAuth, value: str) -> None:
        """The target refused ``value`` (401): fetch a new one next time (unless that happened already)."""
        key = self._key(auth)
        token = self._tokens.get(key)
        if token is not None and token.value == value:
            del self._tokens[key]

    async def _fetch(self, auth: WebhookAuth) -> _Token:
        assert auth.oauth_token_url and auth.oauth_client_id and auth.oauth_client_secret
        self.fetches += 1
        credentials = f"{quote_plus(auth.oauth_client_id)}:{quote_plus(auth.oauth_client_secret)}"
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii"),
            "Accept": "application/json",
        }
        form = {"grant_type": "client_credentials", **({"scope": auth.oauth_scope} if auth.oauth_scope else {})}
        started = self.clock()
        try:
            with trio.fail_after(self.timeout):
                client = self._http(token_tls_context(auth))
                async with client.stream("POST", auth.oauth_token_url, data=form, headers=headers) as response:
                    body = await read_limited(response, _MAX_TOKEN_RESPONSE)
                    status = response.status_code
        except trio.TooSlowError:
            raise OAuthError("timeout") from None
        except (httpx2.HTTPError, OSError, ValueError) as exc:
            raise OAuthError(type(exc).__name__) from None
        if status != 200:
            raise OAuthError(f"HTTP {status}")
        return _parse(body, started)


def _parse(body: bytes, started: float) -> _Token:
    try:
        answer: Any = json.loads(body)
    except ValueError:
        raise OAuthError("response is not JSON") from None
    if not isinstance(answer, dict):
        raise OAuthError("response is not a JSON object")
    value = answer.get("access_token")
    kind = answer.get("token_type", "bearer")
    if not isinstance(value, str) or not value or any(c in value for c in "\r\n"):
        raise OAuthError("response has no access_token")
    if not isinstance(kind, str) or kind.lower() != "bearer":
        raise OAuthError("token_type is not bearer")
    lifetime = answer.get("expires_in", _DEFAULT_LIFETIME)
    if isinstance(lifetime, str) and lifetime.strip().isdigit():
        lifetime = int(lifetime)  # some servers send it as a string
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or not math.isfinite(lifetime):
        lifetime = _DEFAULT_LIFETIME
    lifetime = max(0.0, float(lifetime))
    return _Token(value, started + lifetime - min(_MARGIN, lifetime / 2))


async def read_limited(response: httpx2.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body (a bigger one is cut: nobody needs it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]
