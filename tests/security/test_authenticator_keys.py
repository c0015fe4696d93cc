"""API keys and client secrets: wrong or unknown keys, the key spec, and secrets never echoed in a reason."""

from __future__ import annotations

import base64

import pytest

from connector.security import ApiKey, Authenticator, parse_api_keys

from .authenticator_kit import (
    API_KEY,
    MISMATCH,
    NONCE,
    NOW,
    OPEN_KEY,
    SECRET,
    SECRET_B64,
    check,
    custom_signed,
    id_headers,
    params,
    reference_items,
    replace,
    signed,
)

# --- keys and secrets ----------------------------------------------------------------------------


def test_wrong_secret(auth: Authenticator) -> None:
    result = check(auth, signed(secret_b64=base64.b64encode(b"another secret").decode()))
    assert not result.ok and result.reason == MISMATCH and result.api_key == API_KEY


def test_unknown_key_looks_like_wrong_secret(auth: Authenticator) -> None:
    result = check(auth, signed(api_key="nobody"))
    assert (result.ok, result.reason, result.api_key) == (False, MISMATCH, None)
    assert result.detail == "unknown API key"
    unsigned_unknown = check(auth, id_headers("nobody"))
    unsigned_known = check(auth, id_headers(API_KEY))
    assert unsigned_unknown.reason == unsigned_known.reason
    assert unsigned_unknown.reason.startswith("UNSIGNED")


def test_signed_request_for_secretless_key_is_rejected(auth: Authenticator) -> None:
    result = check(auth, signed(api_key=OPEN_KEY))
    assert result.reason == MISMATCH and "no client secret" in result.detail


def test_keyid_must_equal_api_key_header(auth: Authenticator) -> None:
    headers = replace(signed(), "X-API-KEY", OPEN_KEY)
    assert "keyid mismatch" in check(auth, headers).reason


def test_missing_api_key(auth: Authenticator) -> None:
    result = check(auth, replace(signed(), "X-API-KEY", None))
    assert result.reason == 'PRECONDITION: Missing "X-API-KEY" header field'


@pytest.mark.parametrize(
    ("present", "reason"),
    [
        ((), "UNSIGNED"),
        (("Signature",), "INVALID"),
        (("Signature-Input",), "INVALID"),
    ],
)
def test_missing_signature_headers_with_secret(auth: Authenticator, present: tuple[str, ...], reason: str) -> None:
    headers = [(n, v) for n, v in signed() if n.startswith(("Audiohook", "X-API")) or n in present]
    result = check(auth, headers)
    assert not result.ok and result.reason.startswith(reason)


# --- configuration -------------------------------------------------------------------------------


def test_parse_api_keys() -> None:
    keys = parse_api_keys(" k1:c2VjcmV0, k2 ,k3:c2VjcmV0MQ,, k4: ,")
    assert keys == (
        ApiKey("k1", b"secret"),
        ApiKey("k2"),
        ApiKey("k3", b"secret1"),  # unpadded base64 accepted
        ApiKey("k4"),
    )
    assert not keys[1].has_secret and keys[0].has_secret
    assert "secret" not in repr(keys[0])
    assert parse_api_keys("") == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k1:c2VjcmV0,k2:my*secret*value", "entry 2: client secret is not valid base64"),
        ("k1:abcde", "entry 1: client secret is not valid base64"),
        (":c2VjcmV0", "entry 1: key is empty"),
        ("k 1:c2VjcmV0", "entry 1: key is empty or not visible ASCII"),
        ("k1,k1:c2VjcmV0", "entry 2: duplicate key"),
    ],
)
def test_parse_api_keys_errors_never_echo_secrets(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_api_keys(spec)
    for secretish in ("my*secret*value", "c2VjcmV0", "abcde"):
        assert secretish not in str(info.value)


def test_duplicate_keys_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Authenticator([ApiKey("a"), ApiKey("a", b"x")])


# --- secrets never leak into reasons ------------------------------------------------------------


def test_reasons_never_contain_secrets() -> None:
    """Failures of every kind, including requests that carry the secret in their own headers."""
    auth = Authenticator([ApiKey(API_KEY, SECRET)])
    decoded = SECRET.decode()
    requests = [
        signed(secret_b64=base64.b64encode(b"wrong").decode()),
        signed(api_key=SECRET_B64),
        signed(nonce=SECRET_B64[:10]),
        signed(created=int(NOW) + 100),
        signed(created=int(NOW) - 100),
        replace(signed(), "X-API-KEY", SECRET_B64),
        replace(signed(), "Signature", f"sig1=:{SECRET_B64}:"),
        replace(signed(), "Signature-Input", f"sig1={SECRET_B64}"),
        replace(signed(), "Signature-Input", f'sig1=("{decoded}");keyid="{SECRET_B64}"'),
        replace(signed(), "Audiohook-Session-Id", SECRET_B64),
        id_headers(),
        custom_signed(reference_items(), params(tag=SECRET_B64)),
    ]
    results = [check(auth, headers) for headers in requests]
    assert not any(r.ok for r in results)
    assert len({r.reason for r in results}) >= 6  # the cases really exercise different checks
    for result in results:
        for text in (result.reason, result.detail):
            assert SECRET_B64 not in text and decoded not in text
        assert API_KEY not in result.reason and NONCE not in result.reason
