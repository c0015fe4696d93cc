"""Requests the authenticator accepts, and how proxies that rewrite Host or the path break the signature."""

from __future__ import annotations

import pytest

from connector.security import Authenticator, AuthResult
from connector.security.signature import Item

from .authenticator_kit import (
    API_KEY,
    CORR,
    HOST,
    MISMATCH,
    OPEN_KEY,
    ORG,
    SESSION,
    TARGET,
    check,
    custom_signed,
    id_headers,
    params,
    reference_items,
    replace,
    signed,
)

# --- accepted requests ---------------------------------------------------------------------------


def test_round_trip(auth: Authenticator) -> None:
    result = check(auth, signed())
    assert result == AuthResult(True, "VERIFIED", API_KEY, ORG, SESSION, CORR)


def test_unsigned_accepted_for_secretless_key(auth: Authenticator) -> None:
    result = check(auth, id_headers(OPEN_KEY))
    assert result.ok and result.api_key == OPEN_KEY


def test_header_names_any_case_and_host_from_headers(auth: Authenticator) -> None:
    headers = [(n.upper(), v) for n, v in signed()] + [("host", HOST.upper())]
    assert check(auth, headers, host=None).ok


def test_custom_signer_matches_reference_layout(auth: Authenticator) -> None:
    assert check(auth, custom_signed(reference_items(), params())).ok


def test_other_derived_components_and_label(auth: Authenticator) -> None:
    extra = [Item(n) for n in ("@method", "@path", "@query", "@scheme", "@target-uri")]
    headers = custom_signed(reference_items(*extra), params(), label="mysig")
    assert check(auth, headers).ok


def test_scheme_is_part_of_target_uri(auth: Authenticator) -> None:
    headers = custom_signed(reference_items(Item("@target-uri")), params(), scheme="http")
    assert check(auth, headers).reason == MISMATCH
    assert check(auth, headers, scheme="http").ok


def test_minimal_params_without_alg_and_expires(auth: Authenticator) -> None:
    assert check(auth, custom_signed(reference_items(), params(alg=None, expires=None))).ok


@pytest.mark.parametrize("uuid", ["D7934305-0972-4844-938E-9060EEF73D05", "01890a5d-ac96-774b-bcce-b302099a8057"])
def test_lenient_uuids(auth: Authenticator, uuid: str) -> None:
    headers = replace(id_headers(OPEN_KEY), "Audiohook-Session-Id", uuid)
    assert check(auth, headers).session_id == uuid


# --- proxies and Host ----------------------------------------------------------------------------


def test_host_with_port_signs_and_verifies(auth: Authenticator) -> None:
    assert check(auth, signed(host="Example.com:8443"), host="example.com:8443").ok


@pytest.mark.parametrize(
    ("host", "target"),
    [
        ("example.com", TARGET),  # port dropped by a proxy
        ("internal.svc:8080", TARGET),  # Host rewritten
        ("example.com:8443", "/ws?tenant=a"),  # path prefix stripped
        ("example.com:8443", "/api/v1/voicetranscription/ws"),  # query dropped
    ],
)
def test_rewritten_host_or_path_fails(auth: Authenticator, host: str, target: str) -> None:
    headers = signed(host="example.com:8443")
    assert check(auth, headers, host=host, target=target).reason == MISMATCH


def test_missing_host_fails_cleanly(auth: Authenticator) -> None:
    result = check(auth, signed(), host=None)
    assert not result.ok and result.reason.startswith("PRECONDITION")
