"""Handshake authentication: the reference server's signature policy, plus a replay cache.

Sans-IO and clock-free: the trio layer passes the request's method, raw target, ``Host`` (which
trio-websocket keeps out of its header list), the headers and ``now``; it also applies
:data:`FAILURE_DELAY` to failures. Reasons follow the reference server's ``CODE: text`` style,
are safe to send to the client (constant texts, never a header value or secret), and do not
distinguish an unknown API key from a wrong secret. ``AuthResult.detail`` says more for the
operator's logs.

Policy choices beyond the reference server:

* a *signed* request for a key configured without a secret is rejected (the reference verifies
  it against an empty key): the integration then has a secret we do not know, which is a
  misconfiguration worth surfacing rather than a signature to wave through;
* time checks give the clock skew to the client in both directions (``expires`` may lag by the
  skew; age limit is ``max_age + skew``), where the reference subtracts it;
* verified nonces are remembered per API key for the whole validity window, so replays fail.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .nonces import NonceCache
from .signature import (
    REFERENCE_COMPONENTS,
    InnerList,
    SignatureFormatError,
    Token,
    canonicalize_field_value,
    compute_signature,
    derived_component,
    parse_signature,
    parse_signature_input,
    signature_base,
)

__all__ = [
    "ALLOWED_DERIVED_COMPONENTS",
    "FAILURE_DELAY",
    "ApiKey",
    "AuthResult",
    "Authenticator",
    "parse_api_keys",
]

#: Minimum time from the start of verification to reporting a failure (applied by the caller).
FAILURE_DELAY = 0.5
ALLOWED_DERIVED_COMPONENTS = frozenset(
    {"@method", "@authority", "@scheme", "@target-uri", "@request-target", "@path", "@query", "@status"}
)
_PARAM_TYPES: dict[str, type] = {"alg": str, "created": int, "expires": int, "keyid": str, "nonce": str}
_ID_HEADERS = ("Audiohook-Organization-Id", "Audiohook-Session-Id", "Audiohook-Correlation-Id")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_VISIBLE_ASCII_RE = re.compile(r"[!-~]+")
_FIELD_NAME_RE = re.compile(r"[a-z0-9!#$%&'*+\-.^_`|~]+")
_MISMATCH = "FAILED: Signatures do not match"


@dataclass(frozen=True)
class ApiKey:
    """One configured API key; ``secret`` is the decoded client secret (None or empty: unsigned)."""

    key: str
    secret: bytes | None = field(default=None, repr=False)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)


def parse_api_keys(spec: str) -> tuple[ApiKey, ...]:
    """Parse ``key1:secretBase64,key2,key3:secret``. Keys cannot contain ``,`` or ``:``.

    Errors name the entry by position and never echo a key or secret.
    """
    keys: list[ApiKey] = []
    for n, entry in enumerate(spec.split(","), start=1):
        if not entry.strip():
            continue
        key, _, secret_b64 = (part.strip() for part in entry.partition(":"))
        if not _VISIBLE_ASCII_RE.fullmatch(key):
            raise ValueError(f"API key entry {n}: key is empty or not visible ASCII")
        if any(k.key == key for k in keys):
            raise ValueError(f"API key entry {n}: duplicate key")
        secret = None
        if secret_b64:
            try:  # Genesys shows padded base64; tolerate missing padding
                secret = base64.b64decode(secret_b64 + "=" * (-len(secret_b64) % 4), validate=True)
            except binascii.Error:
                raise ValueError(f"API key entry {n}: client secret is not valid base64") from None
        keys.append(ApiKey(key, secret or None))
    return tuple(keys)


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    reason: str  #: short, constant text; safe to send in ``disconnect.info``
    api_key: str | None = None  #: set only when the key is configured
    organization_id: str | None = None
    session_id: str | None = None
    correlation_id: str | None = None
    detail: str = field(default="", compare=False)  #: for operator logs only; no secrets
    replay_key: str | None = field(default=None, compare=False)
    """For a verified signature: the key of its nonce, which replicas sharing a store must also
    refuse to accept again until ``replay_until`` (this process's cache already does)."""
    replay_until: float = field(default=0.0, compare=False)


class _Reject(Exception):
    """Internal control flow: a failed check. Never escapes :meth:`Authenticator.verify`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail or reason


class Authenticator:
    """Verifies upgrade requests against configured API keys (see module docstring for policy)."""

    def __init__(
        self,
        keys: Iterable[ApiKey],
        *,
        organization_allowlist: frozenset[str] | None = None,
        clock_skew: float = 3.0,
        max_age: float = 10.0,
        nonce_min_length: int = 22,
        replay_ttl: float | None = None,
        replay_max_entries: int = 100_000,
    ) -> None:
        self._keys: dict[str, ApiKey] = {}
        for k in keys:
            if k.key in self._keys:
                raise ValueError("duplicate API key")
            self._keys[k.key] = k
        self._orgs = (
            None if organization_allowlist is None else frozenset(o.lower() for o in organization_allowlist)
        )
        if clock_skew < 0 or max_age <= 0:
            raise ValueError("clock_skew must be >= 0 and max_age > 0")
        self.clock_skew, self.max_age, self.nonce_min_length = clock_skew, max_age, nonce_min_length
        # A signature stays acceptable from (created - skew) to (created + max_age + skew).
        window = max_age + 2 * clock_skew
        if replay_ttl is not None and replay_ttl < window:
            raise ValueError(f"replay_ttl must cover the signature window ({window} s)")
        self._nonces = NonceCache(replay_ttl if replay_ttl is not None else window, replay_max_entries)

    def verify(
        self,
        *,
        method: str,
        target: str,
        host: str | None,
        headers: Sequence[tuple[str, str]],
        now: float,
        scheme: str = "https",
    ) -> AuthResult:
        """Check one upgrade request. ``target`` is the raw path plus query; ``host`` the Host value."""
        grouped: dict[str, list[str]] = {}
        for name, value in headers:
            grouped.setdefault(name.strip().lower(), []).append(canonicalize_field_value(value))
        fields = {name: ", ".join(values) for name, values in grouped.items()}
        ids: list[str] = []
        for label in _ID_HEADERS:
            id_value = fields.get(label.lower())
            if id_value is None or not _UUID_RE.fullmatch(id_value):
                return AuthResult(False, f'PRECONDITION: Missing or invalid "{label}" header field')
            ids.append(id_value)
        org, session, correlation = ids
        known = None
        try:
            api_key = fields.get("x-api-key")
            if not api_key:
                raise _Reject('PRECONDITION: Missing "X-API-KEY" header field')
            known = self._keys.get(api_key)
            if self._orgs is not None and org.lower() not in self._orgs:
                raise _Reject("FAILED: Organization not allowed", "organization not in the allow-list")
            authority = host if host is not None else fields.get("host")
            verified, replay_key = self._check_signature(
                known,
                api_key,
                fields,
                method=method,
                target=target,
                scheme=scheme,
                now=now,
                authority=canonicalize_field_value(authority).lower() if authority else None,
            )
        except _Reject as reject:
            return AuthResult(
                False, reject.reason, known.key if known else None, org, session, correlation, reject.detail
            )
        return AuthResult(
            True, "VERIFIED", verified.key, org, session, correlation, "verified",
            replay_key=replay_key, replay_until=now + self._nonces.ttl if replay_key else 0.0,
        )  # fmt: skip

    def _check_signature(
        self,
        known: ApiKey | None,
        api_key: str,
        fields: dict[str, str],
        *,
        method: str,
        target: str,
        scheme: str,
        authority: str | None,
        now: float,
    ) -> tuple[ApiKey, str | None]:
        """Return the verified key and its nonce's replay key (``None`` unsigned), or raise :class:`_Reject`."""
        why_unknown = "unknown API key" if known is None else ""
        sig_input, sig = fields.get("signature-input"), fields.get("signature")
        if sig_input is None and sig is None:
            if known is not None and not known.has_secret:
                return known, None
            raise _Reject(
                'UNSIGNED: Missing "Signature" and "Signature-Input" header fields',
                why_unknown or "unsigned request for a key with a client secret",
            )
        if sig_input is None or sig is None:
            raise _Reject('INVALID: Need both "Signature" and "Signature-Input" header fields')
        try:
            inputs, signatures = parse_signature_input(sig_input), parse_signature(sig)
        except SignatureFormatError as exc:
            raise _Reject('INVALID: Malformed "Signature" or "Signature-Input" header', str(exc)) from None
        label = next((lb for lb in inputs if lb in signatures), None)
        if label is None:
            raise _Reject("INVALID: No signature for any Signature-Input label")
        covered, signature = inputs[label], signatures[label]
        names = _covered_names(covered)
        nonce = self._check_params(_signature_params(covered), api_key, now)

        values: dict[str, str] = {}
        for name in names:
            if not name.startswith("@"):
                resolved = fields.get(name)
            elif authority is not None:
                resolved = derived_component(
                    name, method=method, target=target, authority=authority, scheme=scheme
                )
            else:
                resolved = None
            if resolved is None:
                raise _Reject("PRECONDITION: Cannot resolve a covered component")
            values[name] = resolved
        try:
            base = signature_base(names, values, covered.serialize())
        except SignatureFormatError as exc:
            raise _Reject("INVALID: Covered component value not signable", str(exc)) from None

        secret = known.secret if known is not None and known.secret else None
        # Unknown key or no secret: still do the HMAC work, with a throwaway key, so timing is alike.
        matches = hmac.compare_digest(compute_signature(secret or secrets.token_bytes(32), base), signature)
        if known is None or secret is None or not matches:
            unconfigured = "signed request but no client secret configured"
            raise _Reject(
                _MISMATCH, why_unknown or (unconfigured if secret is None else "signature mismatch")
            )
        replay_key = f"{api_key}\n{nonce}"
        if self._nonces.seen_or_add(replay_key, now):
            raise _Reject("FAILED: Replayed nonce", "nonce already used in a verified signature")
        return known, replay_key

    def _check_params(self, params: dict[str, str | int], api_key: str, now: float) -> str:
        """Apply the alg/keyid/time/nonce policy; return the nonce."""
        if params.get("alg", "hmac-sha256") != "hmac-sha256":
            raise _Reject("UNSUPPORTED: Signature algorithm not supported")
        keyid = params.get("keyid")
        if not isinstance(keyid, str) or not hmac.compare_digest(_b(keyid), _b(api_key)):
            raise _Reject("PRECONDITION: X-API-KEY header field and signature keyid mismatch")
        created, expires = params.get("created"), params.get("expires")
        if not isinstance(created, int):
            raise _Reject('PRECONDITION: Missing "created" signature parameter')
        if created > now + self.clock_skew:
            raise _Reject('PRECONDITION: Invalid "created" parameter value (time in the future)')
        if isinstance(expires, int) and expires < now - self.clock_skew:
            raise _Reject("EXPIRED: Signature expired", "expires is in the past")
        if now - created > self.max_age + self.clock_skew:
            raise _Reject("EXPIRED: Signature expired", "created is older than max_age")
        nonce = params.get("nonce")
        if not isinstance(nonce, str):
            raise _Reject('PRECONDITION: Missing "nonce" signature parameter')
        if len(nonce) < self.nonce_min_length:
            raise _Reject('PRECONDITION: Provided "nonce" signature parameter is too small')
        return nonce


def _covered_names(covered: InnerList) -> list[str]:
    """Covered component names, after the reference server's structural checks."""
    names: list[str] = []
    for item in covered.items:
        name = item.value
        if not isinstance(name, str) or isinstance(name, Token):
            raise _Reject("INVALID: Covered components must be strings")
        if item.params:
            raise _Reject("INVALID: Component parameters are not supported")
        if name in names:
            raise _Reject("INVALID: Duplicate covered component")
        if name.startswith("@") and name not in ALLOWED_DERIVED_COMPONENTS:
            raise _Reject("INVALID: Unsupported derived component")
        if name == "signature" or not (name.startswith("@") or _FIELD_NAME_RE.fullmatch(name)):
            raise _Reject("INVALID: Unsupported covered component")
        names.append(name)
    if not set(REFERENCE_COMPONENTS) <= set(names):
        raise _Reject("PRECONDITION: Signature does not cover all required components")
    return names


def _signature_params(covered: InnerList) -> dict[str, str | int]:
    """Signature parameters, restricted to the known names and types."""
    params: dict[str, str | int] = {}
    for key, value in covered.params:
        expected = _PARAM_TYPES.get(key)
        if expected is None:
            raise _Reject("INVALID: Unknown signature parameter")
        if isinstance(value, bool | bytes | Token) or not isinstance(value, expected):
            raise _Reject("INVALID: Signature parameter has the wrong type")
        if isinstance(value, int) and value < 0:
            raise _Reject("INVALID: Signature parameter has the wrong type")
        params[key] = value
    return params


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
