"""What the authenticator tests share: a client's identity, a signer, and the call that checks a request.

The rules themselves are tested by topic in the ``test_authenticator_*.py`` modules beside this one.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from connector.security import (
    ApiKey,
    Authenticator,
    AuthResult,
    InnerList,
    compute_signature,
    sign_request,
    signature_base,
)
from connector.security.signature import REFERENCE_COMPONENTS, Item, Params, derived_component

API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
SECRET_B64 = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="
SECRET = base64.b64decode(SECRET_B64)
OPEN_KEY = "open-key-without-secret"
ORG = "d7934305-0972-4844-938e-9060eef73d05"
SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0"
CORR = "e160e428-53e2-487c-977d-96989bf5c99d"
HOST = "audiohook.example.com"
TARGET = "/api/v1/voicetranscription/ws?tenant=a"
NOW = 1_700_000_000.0
NONCE = "VGhpc0lzQVVuaXF1ZU5vbmNl"
MISMATCH = "FAILED: Signatures do not match"


def authenticator() -> Authenticator:
    """The usual server: API_KEY with SECRET, OPEN_KEY without a secret, any organization."""
    return Authenticator([ApiKey(API_KEY, SECRET), ApiKey(OPEN_KEY)], organization_allowlist=None)


def id_headers(api_key: str = API_KEY) -> list[tuple[str, str]]:
    return [
        ("Audiohook-Organization-Id", ORG),
        ("Audiohook-Session-Id", SESSION),
        ("Audiohook-Correlation-Id", CORR),
        ("X-API-KEY", api_key),
    ]


def signed(
    *,
    api_key: str = API_KEY,
    secret_b64: str = SECRET_B64,
    host: str = HOST,
    target: str = TARGET,
    nonce: str | None = NONCE,
    created: int = int(NOW),
    expires: int | None = None,
) -> list[tuple[str, str]]:
    sig = sign_request(
        api_key=api_key,
        client_secret_b64=secret_b64,
        host=host,
        target=target,
        organization_id=ORG,
        session_id=SESSION,
        correlation_id=CORR,
        nonce=nonce,
        created=created,
        expires=expires,
    )
    return [*id_headers(api_key), *sig.items()]


def params(**over: str | int | None) -> Params:
    base: dict[str, str | int | None] = {
        "keyid": API_KEY,
        "nonce": NONCE,
        "alg": "hmac-sha256",
        "created": int(NOW),
        "expires": int(NOW) + 30,
    }
    base.update(over)
    return tuple((k, v) for k, v in base.items() if v is not None)


def custom_signed(
    items: Sequence[Item], sig_params: Params, *, label: str = "sig1", scheme: str = "https"
) -> list[tuple[str, str]]:
    """Sign any covered-component list the way a conforming client would (our own test signer)."""
    covered = InnerList(tuple(items), sig_params)
    fields = {name.lower(): value for name, value in id_headers()}
    names = [str(i.value) for i in items]
    values = {
        n: (derived_component(n, method="GET", target=TARGET, authority=HOST, scheme=scheme) or "")
        if n.startswith("@")
        else fields.get(n, "")
        for n in names
    }
    text = covered.serialize()
    sig = base64.b64encode(compute_signature(SECRET, signature_base(names, values, text))).decode()
    return [*id_headers(), ("Signature-Input", f"{label}={text}"), ("Signature", f"{label}=:{sig}:")]


def reference_items(*extra: Item) -> list[Item]:
    return [*(Item(c) for c in REFERENCE_COMPONENTS), *extra]


def check(
    auth: Authenticator,
    headers: Sequence[tuple[str, str]],
    *,
    now: float = NOW,
    host: str | None = HOST,
    target: str = TARGET,
    scheme: str = "https",
) -> AuthResult:
    return auth.verify(method="GET", target=target, host=host, headers=headers, now=now, scheme=scheme)


def replace(headers: Sequence[tuple[str, str]], name: str, value: str | None) -> list[tuple[str, str]]:
    out = [(n, v) for n, v in headers if n.lower() != name.lower()]
    return out if value is None else [*out, (name, value)]

