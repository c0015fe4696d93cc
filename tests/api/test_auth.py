"""The token decision table, and the constant-time comparison it is made with (not timed here:
the test checks that every configured token is compared, with equal-length digests)."""

from __future__ import annotations

import hmac

import pytest

from connector.api.auth import TokenTable, Verdict
from connector.api.errors import ApiError
from connector.api.settings import ApiToken, Scope

READ = "read-token-0123456789abcdef"
CONTROL = "control-token-0123456789abcdef"
BOTH = "both-token-0123456789abcdef"
TABLE = TokenTable(
    [
        ApiToken(READ, frozenset({Scope.READ})),
        ApiToken(CONTROL, frozenset({Scope.CONTROL})),
        ApiToken(BOTH, frozenset({Scope.READ, Scope.CONTROL})),
    ]
)


@pytest.mark.parametrize(
    ("header", "scope", "verdict"),
    [
        (None, Scope.READ, Verdict.MISSING),
        ("", Scope.READ, Verdict.MISSING),
        ("   ", Scope.CONTROL, Verdict.MISSING),
        (f"Basic {READ}", Scope.READ, Verdict.MALFORMED),
        ("Bearer", Scope.READ, Verdict.MALFORMED),
        ("Bearer ", Scope.READ, Verdict.MALFORMED),
        (f"Bearer {READ} extra", Scope.READ, Verdict.MALFORMED),
        (READ, Scope.READ, Verdict.MALFORMED),
        ("Bearer not-a-configured-token-at-all", Scope.READ, Verdict.UNKNOWN),
        (f"Bearer {READ[:-1]}", Scope.READ, Verdict.UNKNOWN),
        (f"Bearer {READ}x", Scope.READ, Verdict.UNKNOWN),
        (f"Bearer {READ.upper()}", Scope.READ, Verdict.UNKNOWN),
        (f"Bearer {READ}", Scope.READ, Verdict.ALLOWED),
        (f"bearer   {READ} ", Scope.READ, Verdict.ALLOWED),
        (f"Bearer {READ}", Scope.CONTROL, Verdict.FORBIDDEN),
        (f"Bearer {CONTROL}", Scope.CONTROL, Verdict.ALLOWED),
        (f"Bearer {CONTROL}", Scope.READ, Verdict.FORBIDDEN),
        (f"Bearer {BOTH}", Scope.READ, Verdict.ALLOWED),
        (f"Bearer {BOTH}", Scope.CONTROL, Verdict.ALLOWED),
    ],
)
def test_decision_table(header: str | None, scope: Scope, verdict: Verdict) -> None:
    assert TABLE.decide(header, scope) is verdict


def test_anonymous_allows_everything_but_only_without_tokens() -> None:
    open_table = TokenTable([], anonymous=True)
    assert open_table.decide(None, Scope.CONTROL) is Verdict.ALLOWED
    assert open_table.decide("Basic x", Scope.READ) is Verdict.ALLOWED
    closed = TokenTable([ApiToken(READ, frozenset({Scope.READ}))], anonymous=True)
    assert closed.decide(None, Scope.READ) is Verdict.MISSING
    assert TokenTable([]).decide(f"Bearer {READ}", Scope.READ) is Verdict.UNKNOWN


def test_every_token_is_compared_as_equal_length_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[int, int]] = []
    original = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)
    for header in (f"Bearer {READ}", f"Bearer {BOTH}", "Bearer x", "Bearer a-much-longer-token-than-any-other-one"):
        compared.clear()
        TABLE.decide(header, Scope.READ)
        assert compared == [(32, 32)] * 3  # no early exit on the first (READ) match, no length leak


def test_check_raises_the_api_errors() -> None:
    with pytest.raises(ApiError) as missing:
        TABLE.check(None, Scope.READ)
    assert (missing.value.status_code, missing.value.code) == (401, "unauthorized")
    assert missing.value.headers is not None and missing.value.headers["WWW-Authenticate"].startswith("Bearer")
    with pytest.raises(ApiError) as forbidden:
        TABLE.check(f"Bearer {READ}", Scope.CONTROL)
    assert (forbidden.value.status_code, forbidden.value.code) == (403, "forbidden")
    assert READ not in forbidden.value.info
    TABLE.check(f"Bearer {READ}", Scope.READ)
