"""Fuzzing the signature headers (``connector/security/signature.py``, ``authenticator.py``).

* The RFC 8941 parsers take any text: they return a dictionary or raise
  :class:`SignatureFormatError`, nothing else; what they return re-serializes to text that
  parses back to the same thing (the ``@signature-params`` line is built that way).
* :meth:`Authenticator.verify` with random ``Signature``/``Signature-Input`` values (random text,
  near-valid structured fields, mutations of a valid pair) returns an :class:`AuthResult` and
  never raises; it never accepts one it could not have computed.
* A valid signed request, mutated anywhere that is signed (a signed header, the target, the
  host, a signature parameter, the covered components, the label, a signature byte), is refused;
  a character mutation of the header text is accepted only when its ``sig1`` parses to the very
  same signature (RFC 8941 leaves room, e.g. extra spaces inside an inner list).
"""

from __future__ import annotations

import base64

from hypothesis import example, given
from hypothesis import strategies as st

from connector.security import Authenticator, SignatureFormatError, parse_signature, parse_signature_input
from connector.security.signature import InnerList, Item
from tests.security.authenticator_kit import (
    API_KEY,
    CORR,
    HOST,
    NONCE,
    ORG,
    SESSION,
    TARGET,
    authenticator,
    check,
    replace,
    signed,
)

SF_ALPHABET = 'sig1=()";:?*-._ abcdefghijklmnopqrstuvwxyz0123456789+/@\\,\t' + "ABCXYZ"
sf_text = st.one_of(
    st.text(alphabet=SF_ALPHABET, max_size=120),
    st.text(max_size=60),  # anything, also non-ASCII and control characters
)


def value_of(headers: list[tuple[str, str]], name: str) -> str:
    return next(v for n, v in headers if n.lower() == name.lower())


def fresh() -> Authenticator:
    """A new server each time: the replay cache must not be what refuses a request."""
    return authenticator()


def parse_or_none(parse: object, text: str) -> object:
    try:
        return parse(text)  # type: ignore[operator]
    except SignatureFormatError:
        return None


# ------------------------------------------------------------------ the parsers


@given(sf_text)
@example('sig1=("a";b=?2)')
@example("sig1=:" + "A" * 5 + ":")
@example('sig1=("@request-target");created=' + "9" * 16)
@example('sig1=("x" "y");nonce="\\q"')
@example("sig1=?")
def test_the_parsers_raise_only_signature_format_errors(text: str) -> None:
    inputs = parse_or_none(parse_signature_input, text)
    if isinstance(inputs, dict):
        for label, covered in inputs.items():
            again = parse_signature_input(f"{label}={covered.serialize()}")
            assert again == {label: covered}
    signatures = parse_or_none(parse_signature, text)
    if isinstance(signatures, dict):
        for label, value in signatures.items():
            assert parse_signature(f"{label}=:{base64.b64encode(value).decode()}:") == {label: value}


# ------------------------------------------------------------------ the authenticator

signature_input = st.one_of(
    sf_text,
    st.builds(
        lambda label, items, params: f"{label}={InnerList(tuple(items), tuple(params)).serialize()}",
        st.sampled_from(["sig1", "sig2", "a"]),
        st.lists(
            st.builds(Item, st.sampled_from(["@request-target", "@authority", "@method", "@status", "@query",
                                             "@path", "@target-uri", "@scheme", "@bogus", "x-api-key", "host",
                                             "audiohook-session-id", "audiohook-organization-id",
                                             "audiohook-correlation-id", "signature", "Upper", "nope"])),
            max_size=9,
        ),
        st.lists(
            st.tuples(
                st.sampled_from(["keyid", "nonce", "alg", "created", "expires", "tag"]),
                st.one_of(st.integers(-5, 2**40), st.sampled_from([API_KEY, NONCE, "hmac-sha256", "x", ""]),
                          st.booleans(), st.binary(max_size=4)),
            ),
            max_size=6,
            unique_by=lambda kv: kv[0],
        ),
    ),
)
signature = st.one_of(sf_text, st.binary(max_size=40).map(lambda b: f"sig1=:{base64.b64encode(b).decode()}:"))


@given(signature_input, signature, st.booleans(), st.booleans())
def test_random_signature_headers_are_refused_without_an_exception(
    sig_input: str, sig: str, with_input: bool, with_signature: bool
) -> None:
    headers = signed()
    headers = replace(headers, "Signature-Input", sig_input if with_input else None)
    headers = replace(headers, "Signature", sig if with_signature else None)
    result = check(fresh(), headers)
    assert not result.ok and result.reason and result.reason.split(":")[0].isupper()
    assert (result.organization_id, result.session_id, result.correlation_id) == (ORG, SESSION, CORR)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Signature", "Signature-Input", "X-API-KEY", "Audiohook-Session-Id", "Host", "Other"]),
            st.text(max_size=40),
        ),
        max_size=6,
    ),
    st.one_of(st.none(), st.text(max_size=30)),
    st.text(max_size=30),
)
def test_any_headers_give_an_auth_result(extra: list[tuple[str, str]], host: str | None, target: str) -> None:
    """Duplicated, missing and garbage headers of every kind: a result, never an exception."""
    result = check(fresh(), [*signed(), *extra], host=host, target=target)
    assert isinstance(result.ok, bool) and result.reason


# ------------------------------------------------------------------ mutations of a valid request

SIGNED_HEADERS = ["Audiohook-Organization-Id", "Audiohook-Session-Id", "Audiohook-Correlation-Id", "X-API-KEY"]


def _other(draw: st.DrawFn, original: str, alphabet: str) -> str:
    """A different value: one character of ``original`` changed, or one added."""
    at = draw(st.integers(0, len(original)))
    char = draw(st.sampled_from(alphabet))
    mutated = original[:at] + char + original[at + 1 :] if draw(st.booleans()) else original[:at] + char + original[at:]
    return mutated if mutated != original else original + char


@st.composite
def semantic_mutation(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], str, str]:
    """A valid request changed in one signed respect: (what, headers, host, target)."""
    headers, host, target = signed(), HOST, TARGET
    what = draw(st.sampled_from(["header", "target", "host", "param", "components", "label", "signature"]))
    if what == "header":
        name = draw(st.sampled_from(SIGNED_HEADERS))
        headers = replace(headers, name, _other(draw, value_of(headers, name), "0123456789abcdefABCDEF-xyz"))
    elif what == "target":
        target = _other(draw, TARGET, "abc/?=&%0")
    elif what == "host":
        host = _other(draw, HOST, "abc.-0:")  # lower case: Host is compared case-insensitively
    else:
        label, covered = next(iter(parse_signature_input(value_of(headers, "Signature-Input")).items()))
        sig = parse_signature(value_of(headers, "Signature"))[label]
        items, params = list(covered.items), list(covered.params)
        if what == "param":
            index = draw(st.integers(0, len(params) - 1))
            key, value = params[index]
            if isinstance(value, int):
                new: str | int = value + draw(st.sampled_from([-2, -1, 1, 2]))
            else:
                new = _other(draw, str(value), "abcXYZ019+/=")
            params[index] = (key, new)
        elif what == "components":
            how = draw(st.sampled_from(["drop", "swap", "add"]))
            if how == "drop":
                del items[draw(st.integers(0, len(items) - 1))]
            elif how == "swap":
                i = draw(st.integers(0, len(items) - 2))
                items[i], items[i + 1] = items[i + 1], items[i]
            else:
                items.insert(draw(st.integers(0, len(items))), Item(draw(st.sampled_from(["@method", "@path"]))))
        elif what == "label":
            new_label = _other(draw, label, "abcxyz0129")
            headers = replace(headers, "Signature", f"{new_label}=:{base64.b64encode(sig).decode()}:")
        else:
            raw = bytearray(sig)
            index = draw(st.integers(0, len(raw) - 1))
            raw[index] ^= draw(st.integers(1, 255))
            headers = replace(headers, "Signature", f"{label}=:{base64.b64encode(bytes(raw)).decode()}:")
        headers = replace(headers, "Signature-Input", f"{label}={InnerList(tuple(items), tuple(params)).serialize()}")
    return what, headers, host, target


@given(semantic_mutation())
def test_a_valid_request_mutated_where_it_is_signed_is_refused(
    case: tuple[str, list[tuple[str, str]], str, str],
) -> None:
    assert check(fresh(), signed()).ok  # the unmutated request passes
    what, headers, host, target = case
    result = check(fresh(), headers, host=host, target=target)
    assert not result.ok, what


@given(
    st.sampled_from(["Signature", "Signature-Input"]),
    st.integers(0, 400),
    st.text(alphabet=SF_ALPHABET + '\x00\x7f"\\é', min_size=1, max_size=3),
    st.booleans(),
)
def test_a_character_mutation_of_the_headers_is_refused_unless_it_means_the_same(
    name: str, at: int, chars: str, insert: bool
) -> None:
    headers = signed()
    original = value_of(headers, name)
    at = min(at, len(original))
    text = original[:at] + chars + original[at + (0 if insert else len(chars)) :]
    result = check(fresh(), replace(headers, name, text))
    if result.ok:
        parse = parse_signature_input if name == "Signature-Input" else parse_signature
        assert parse(text)["sig1"] == parse(original)["sig1"], text  # other members are not what was checked
