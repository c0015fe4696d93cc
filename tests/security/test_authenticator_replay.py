"""Nonces: a replayed request is rejected, and the replay cache expires and stays bounded."""

from __future__ import annotations

import base64

import pytest

from connector.security import ApiKey, Authenticator, NonceCache

from .authenticator_kit import (
    API_KEY,
    MISMATCH,
    NOW,
    SECRET,
    check,
    custom_signed,
    params,
    reference_items,
    signed,
)

# --- nonces and replay ---------------------------------------------------------------------------


def test_replay_rejected_then_accepted_after_ttl() -> None:
    auth = Authenticator([ApiKey(API_KEY, SECRET)], replay_ttl=60.0)
    assert check(auth, signed()).ok
    assert check(auth, signed(), now=NOW + 1).reason == "FAILED: Replayed nonce"
    later = NOW + 61
    assert check(auth, signed(created=int(later)), now=later).ok


def test_failed_signature_does_not_burn_nonce(auth: Authenticator) -> None:
    assert check(auth, signed(secret_b64=base64.b64encode(b"wrong").decode())).reason == MISMATCH
    assert check(auth, signed()).ok


def test_replay_cache_is_per_key() -> None:
    other_secret = base64.b64encode(b"other").decode()
    auth = Authenticator([ApiKey(API_KEY, SECRET), ApiKey("k2", base64.b64decode(other_secret))])
    assert check(auth, signed()).ok
    assert check(auth, signed(api_key="k2", secret_b64=other_secret)).ok


@pytest.mark.parametrize(("nonce", "ok"), [("x" * 21, False), ("x" * 22, True), (None, False)])
def test_nonce_length(auth: Authenticator, nonce: str | None, ok: bool) -> None:
    result = check(auth, custom_signed(reference_items(), params(nonce=nonce)))
    assert result.ok is ok
    if not ok:
        assert "nonce" in result.reason


def test_replay_ttl_must_cover_window() -> None:
    with pytest.raises(ValueError, match="replay_ttl"):
        Authenticator([], replay_ttl=5.0)


# --- replay cache --------------------------------------------------------------------------------


def test_nonce_cache_expiry_and_bound() -> None:
    cache = NonceCache(ttl=10.0, max_entries=3)
    assert cache.seen_or_add("a", 0.0) is False
    assert cache.seen_or_add("a", 9.9) is True
    assert cache.seen_or_add("a", 10.0) is False  # expired, re-added
    for i, n in enumerate("bcd"):
        cache.seen_or_add(n, 11.0 + i)
    assert len(cache) == 3
    assert cache.seen_or_add("a", 14.0) is False  # evicted as the oldest when "d" arrived
    assert cache.seen_or_add("zz", 100.0) is False and len(cache) == 1  # everything else pruned


def test_nonce_cache_tolerates_clock_step_back() -> None:
    cache = NonceCache(ttl=10.0)
    cache.seen_or_add("a", 100.0)
    cache.seen_or_add("b", 50.0)  # wall clock stepped back
    assert cache.seen_or_add("b", 55.0) is True
    assert cache.seen_or_add("b", 60.0) is False  # expired although behind "a" in the queue
    assert cache.seen_or_add("a", 105.0) is True


def test_nonce_cache_validates_arguments() -> None:
    with pytest.raises(ValueError):
        NonceCache(ttl=0)
