"""Signature primitives: the Genesys documentation test vector, the structured-field parser, the base."""

from __future__ import annotations

import base64

import pytest

from connector.security.signature import (
    REFERENCE_COMPONENTS,
    InnerList,
    Item,
    SignatureFormatError,
    Token,
    compute_signature,
    derived_component,
    parse_signature,
    parse_signature_input,
    sign_request,
    signature_base,
)

API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
SECRET_B64 = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="
ORG = "d7934305-0972-4844-938e-9060eef73d05"
SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0"
CORR = "e160e428-53e2-487c-977d-96989bf5c99d"
NONCE = "VGhpc0lzQVVuaXF1ZU5vbmNl"
VECTOR_INPUT = (
    'sig1=("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" '
    '"audiohook-correlation-id" "x-api-key");keyid="SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";'
    'nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";alg="hmac-sha256";created=1641013200;expires=3282026430'
)
VECTOR_VALUES = {
    "@request-target": "/api/v1/voicebiometrics/ws",
    "@authority": "audiohook.example.com",
    "host": "audiohook.example.com",
    "audiohook-organization-id": ORG,
    "audiohook-session-id": SESSION,
    "audiohook-correlation-id": CORR,
    "x-api-key": API_KEY,
}
VECTOR_PARAMS = (
    ("keyid", API_KEY),
    ("nonce", NONCE),
    ("alg", "hmac-sha256"),
    ("created", 1641013200),
    ("expires", 3282026430),
)


def _vector_headers(**overrides: str) -> dict[str, str]:
    args = {
        "api_key": API_KEY,
        "client_secret_b64": SECRET_B64,
        "host": "audiohook.example.com",
        "target": "/api/v1/voicebiometrics/ws",
        "organization_id": ORG,
        "session_id": SESSION,
        "correlation_id": CORR,
        "nonce": NONCE,
    } | overrides
    return sign_request(**args, created=1641013200, expires=3282026430)


def test_documentation_vector() -> None:
    headers = _vector_headers()
    assert headers["Signature-Input"] == VECTOR_INPUT
    assert headers["Signature"] == "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:"


def test_host_is_lowercased_for_authority() -> None:
    assert _vector_headers(host="AudioHook.Example.COM") == _vector_headers()


def test_documentation_vector_host_variant() -> None:
    components = tuple("host" if c == "@authority" else c for c in REFERENCE_COMPONENTS)
    covered = InnerList(tuple(Item(c) for c in components), VECTOR_PARAMS)
    base = signature_base(components, VECTOR_VALUES, covered.serialize())
    signature = compute_signature(base64.b64decode(SECRET_B64), base)
    assert base64.b64encode(signature).decode() == "zupMJUMfd/kMuvKc5zhRyfJPE3jTROuz1S1hn8SCTpE="


def test_signature_base_layout() -> None:
    params_text = VECTOR_INPUT.removeprefix("sig1=")
    base = signature_base(REFERENCE_COMPONENTS, VECTOR_VALUES, params_text)
    lines = base.split("\n")
    assert lines[0] == '"@request-target": /api/v1/voicebiometrics/ws'
    assert lines[1] == '"@authority": audiohook.example.com'
    assert lines[5] == f'"x-api-key": {API_KEY}'
    assert lines[-1] == f'"@signature-params": {params_text}'
    assert len(lines) == 7 and not base.endswith("\n")


def test_signature_base_canonicalizes_header_values() -> None:
    values = {"x-a": "  one\r\n\t two  ", "@path": "/p"}
    assert signature_base(["x-a", "@path"], values, "()") == '"x-a": one two\n"@path": /p\n"@signature-params": ()'


@pytest.mark.parametrize("bad", ["a\r\nb", "a\nb", "a\x00b", "a\rb"])
def test_signature_base_rejects_line_breaks(bad: str) -> None:
    with pytest.raises(SignatureFormatError):
        signature_base(["x-a"], {"x-a": bad}, "()")


def test_signature_base_missing_value() -> None:
    with pytest.raises(SignatureFormatError, match="no value"):
        signature_base(["x-a"], {}, "()")


def test_parse_vector_round_trips() -> None:
    parsed = parse_signature_input(VECTOR_INPUT)
    assert list(parsed) == ["sig1"]
    covered = parsed["sig1"]
    assert tuple(i.value for i in covered.items) == REFERENCE_COMPONENTS
    assert covered.params == VECTOR_PARAMS
    assert covered.param("created") == 1641013200 and covered.param("missing") is None
    assert "sig1=" + covered.serialize() == VECTOR_INPUT
    sig = parse_signature("sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:")
    assert sig == {"sig1": base64.b64decode("NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=")}


def test_parse_tolerates_rfc_whitespace_and_serializes_canonically() -> None:
    parsed = parse_signature_input(' a=( "x"  "y" );k="v\\"q";n=-5;t=tok/1;b;f=?0 ,\tb=()')
    assert parsed["a"].serialize() == '("x" "y");k="v\\"q";n=-5;t=tok/1;b;f=?0'
    assert isinstance(parsed["a"].param("t"), Token)
    assert parsed["a"].param("b") is True and parsed["a"].param("f") is False
    assert parsed["b"] == InnerList(())
    assert parse_signature("s1=:AAAA:, s2=:AQID:") == {"s1": b"\0\0\0", "s2": b"\1\2\3"}


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "sig1",  # bare key: boolean true, not an inner list
        'sig1="x"',
        "sig1=(",
        'sig1=("a"',
        'sig1=("a")junk',
        'sig1=("a""b")',
        'sig1=("a");created=1.5',
        'sig1=("a");created=1234567890123456',
        'sig1=("a"),',
        'sig1=("a"), sig1=("b")',
        'sig1=("a");k=1;k=2',
        'sig1=("a\\x")',
        'sig1=("unterminated)',
        'sig1=("é")',
        'sig1=("a\x01")',
        'Sig1=("a")',
        'sig1=("a");=1',
        'sig1=("a");k=',
        'sig1=("a");k=?2',
        'sig1=("a") ; k=1',
        "sig1=(@x)",
    ],
)
def test_parse_signature_input_rejects_malformed(bad: str) -> None:
    with pytest.raises(SignatureFormatError):
        parse_signature_input(bad)


@pytest.mark.parametrize(
    "bad", ["", "sig1=:abc:", "sig1=:AAAA", 'sig1="AAAA"', "sig1=:AAAA:;x=1", "sig1=(:AAAA:)", "sig1=:A-A_:"]
)
def test_parse_signature_rejects_malformed(bad: str) -> None:
    with pytest.raises(SignatureFormatError):
        parse_signature(bad)


def test_format_error_is_a_value_error() -> None:
    assert issubclass(SignatureFormatError, ValueError)


@pytest.mark.parametrize(
    ("name", "target", "expected"),
    [
        ("@method", "/a?b=1", "GET"),
        ("@authority", "/a", "example.com:8443"),
        ("@scheme", "/a", "https"),
        ("@request-target", "/a/b?c=1&d", "/a/b?c=1&d"),
        ("@target-uri", "/a?x", "https://example.com:8443/a?x"),
        ("@path", "/a/b?c=1", "/a/b"),
        ("@path", "/", "/"),
        ("@query", "/a?c=1&d", "?c=1&d"),
        ("@query", "/a", "?"),
        ("@query", "/a?", "?"),
        ("@path", "https://h.example/p?q=1", "/p"),
        ("@query", "https://h.example/p?q=1", "?q=1"),
        ("@target-uri", "https://h.example/p", "https://h.example/p"),
        ("@status", "/a", None),
        ("@signature-params", "/a", None),
    ],
)
def test_derived_components(name: str, target: str, expected: str | None) -> None:
    value = derived_component(name, method="GET", target=target, authority="example.com:8443", scheme="HTTPS")
    assert value == expected


def test_sign_request_defaults() -> None:
    def covered(created: int | None = None) -> InnerList:
        headers = sign_request(
            api_key="k",
            client_secret_b64=SECRET_B64,
            host="h",
            target="/",
            organization_id=ORG,
            session_id=SESSION,
            correlation_id=CORR,
            created=created,
        )
        return parse_signature_input(headers["Signature-Input"])["sig1"]

    first, second = covered(1000), covered(1000)
    assert [k for k, _ in first.params] == ["keyid", "nonce", "alg", "created", "expires"]
    assert first.param("expires") == 1030
    nonce = first.param("nonce")
    assert isinstance(nonce, str) and len(nonce) == 24 and len(base64.b64decode(nonce)) == 18
    assert nonce != second.param("nonce")
    created = covered().param("created")
    assert isinstance(created, int) and created > 1_600_000_000


def test_sign_request_bad_secret_does_not_echo_it() -> None:
    with pytest.raises(ValueError, match="base64") as info:
        sign_request(
            api_key="k",
            client_secret_b64="not*base64*secret",
            host="h",
            target="/",
            organization_id=ORG,
            session_id=SESSION,
            correlation_id=CORR,
        )
    assert "not*base64*secret" not in str(info.value)
