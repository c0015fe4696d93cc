"""Handshake policy: every accept/reject rule of the authenticator, the key spec and the replay cache."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator, Sequence

import pytest

from connector.security import (
    FAILURE_DELAY,
    ApiKey,
    Authenticator,
    AuthResult,
    InnerList,
    NonceCache,
    compute_signature,
    parse_api_keys,
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


@pytest.fixture
def auth() -> Authenticator:
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


# --- accepted requests ---------------------------------------------------------------------------


def test_round_trip(auth: Authenticator) -> None:
    result = check(auth, signed())
    assert result == AuthResult(True, "VERIFIED", API_KEY, ORG, SESSION, CORR)


def test_failure_delay_constant() -> None:
    assert FAILURE_DELAY == 0.5


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


# --- structural policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "sig_params", "reason"),
    [
        (reference_items(), params(tag="x"), "INVALID: Unknown signature parameter"),
        (reference_items(), params(created="1700000000"), "INVALID: Signature parameter has the wrong type"),
        (reference_items(), params(created=-1), "INVALID: Signature parameter has the wrong type"),
        (reference_items(), params(alg="rsa-pss-sha512"), "UNSUPPORTED: Signature algorithm not supported"),
        (reference_items(), params(keyid=None), "PRECONDITION: X-API-KEY header field and signature keyid mismatch"),
        (reference_items()[:-1], params(), "PRECONDITION: Signature does not cover all required components"),
        (reference_items(Item("x-api-key")), params(), "INVALID: Duplicate covered component"),
        (reference_items(Item("signature")), params(), "INVALID: Unsupported covered component"),
        (reference_items(Item("X-Api-Key")), params(), "INVALID: Unsupported covered component"),
        (reference_items(Item("@query-param")), params(), "INVALID: Unsupported derived component"),
        (reference_items(Item("@signature-params")), params(), "INVALID: Unsupported derived component"),
        (reference_items(Item("@status")), params(), "PRECONDITION: Cannot resolve a covered component"),
        (reference_items(Item("x-absent")), params(), "PRECONDITION: Cannot resolve a covered component"),
        (reference_items(Item(7)), params(), "INVALID: Covered components must be strings"),
        (
            [*reference_items()[:-1], Item("x-api-key", (("sf", True),))],
            params(),
            "INVALID: Component parameters are not supported",
        ),
    ],
)
def test_structural_rejections(auth: Authenticator, items: list[Item], sig_params: Params, reason: str) -> None:
    assert check(auth, custom_signed(items, sig_params)).reason == reason


def test_label_must_match(auth: Authenticator) -> None:
    headers = [(n, v.replace("sig1=:", "sig2=:")) for n, v in signed()]
    assert check(auth, headers).reason == "INVALID: No signature for any Signature-Input label"


def test_first_matching_label_is_used(auth: Authenticator) -> None:
    headers = signed()
    sig_input = dict(headers)["Signature-Input"]
    headers = replace(headers, "Signature-Input", 'other=();keyid="x", ' + sig_input)
    assert check(auth, headers).ok


def test_malformed_and_mutated_headers_never_raise() -> None:
    """Mutate every request part many ways: the result is always a clean AuthResult."""
    rng = random.Random(1234)
    auth = Authenticator([ApiKey(API_KEY, SECRET), ApiKey(OPEN_KEY)])
    alphabet = ' "();:=,*?\\-_@./\t\r\n\x00\x7fé\udcff0aZ+'

    def mutate(text: str) -> str:
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(chars) + 1)
            op = rng.random()
            if op < 0.4 and chars:
                del chars[min(pos, len(chars) - 1)]
            elif op < 0.8:
                chars.insert(pos, rng.choice(alphabet))
            elif chars:
                chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
        return "".join(chars)

    def cases() -> Iterator[tuple[list[tuple[str, str]], str]]:
        for _ in range(1500):
            headers = signed(nonce=None)
            i = rng.randrange(len(headers) + 1)
            if i == len(headers):
                yield headers, mutate(TARGET)
            else:
                name, value = headers[i]
                headers[i] = (mutate(name) if rng.random() < 0.1 else name, mutate(value))
                yield headers, TARGET

    outcomes = {True: 0, False: 0}
    for headers, target in cases():
        result = check(auth, headers, target=target, host=mutate(HOST) if rng.random() < 0.1 else HOST)
        assert isinstance(result, AuthResult) and isinstance(result.reason, str)
        outcomes[result.ok] += 1
    assert outcomes[False] > 1000  # the mutations really did break things


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
