"""The Audiohook id headers, the organization allowlist, and the signature's time window."""

from __future__ import annotations

import pytest

from connector.security import ApiKey, Authenticator

from .authenticator_kit import (
    API_KEY,
    NOW,
    ORG,
    SECRET,
    SESSION,
    check,
    custom_signed,
    params,
    reference_items,
    replace,
    signed,
)

# --- Audiohook ids and organizations -------------------------------------------------------------


@pytest.mark.parametrize("name", ["Audiohook-Organization-Id", "Audiohook-Session-Id", "Audiohook-Correlation-Id"])
@pytest.mark.parametrize(
    "value", [None, "", "not-a-uuid", ORG + "0", ORG + "\n", "g7934305-0972-4844-938e-9060eef73d05"]
)
def test_missing_or_invalid_ids(auth: Authenticator, name: str, value: str | None) -> None:
    result = check(auth, replace(signed(), name, value))
    assert not result.ok and result.reason == f'PRECONDITION: Missing or invalid "{name}" header field'


def test_duplicated_id_header_is_invalid(auth: Authenticator) -> None:
    result = check(auth, [*signed(), ("audiohook-session-id", SESSION)])
    assert result.reason.startswith("PRECONDITION: Missing or invalid")


def test_organization_allowlist() -> None:
    keys = [ApiKey(API_KEY, SECRET)]
    allowed = Authenticator(keys, organization_allowlist=frozenset({ORG.upper()}))
    assert check(allowed, signed()).ok
    other = Authenticator(keys, organization_allowlist=frozenset({"00000000-0000-0000-0000-000000000000"}))
    result = check(other, signed())
    assert result.reason == "FAILED: Organization not allowed" and result.organization_id == ORG


# --- time window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "expires", "now", "ok"),
    [
        (int(NOW) + 3, None, NOW, True),  # client clock ahead, inside the skew
        (int(NOW) + 4, None, NOW, False),  # created in the future
        (int(NOW) - 13, None, NOW, True),  # max_age + skew
        (int(NOW) - 14, None, NOW, False),  # too old
        (int(NOW) - 5, int(NOW) - 3, NOW, True),  # expires inside the skew
        (int(NOW) - 5, int(NOW) - 4, NOW, False),  # expired
    ],
)
def test_time_window(auth: Authenticator, created: int, expires: int | None, now: float, ok: bool) -> None:
    result = check(auth, signed(created=created, expires=expires), now=now)
    assert result.ok is ok
    if not ok:
        assert result.reason.startswith(("EXPIRED", "PRECONDITION"))


def test_missing_created(auth: Authenticator) -> None:
    result = check(auth, custom_signed(reference_items(), params(created=None)))
    assert result.reason == 'PRECONDITION: Missing "created" signature parameter'
