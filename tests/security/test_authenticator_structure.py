"""The structural policy of Signature-Input: parameters, covered components, labels; malformed input never raises."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from connector.security import ApiKey, Authenticator, AuthResult
from connector.security.signature import Item, Params

from .authenticator_kit import (
    API_KEY,
    HOST,
    OPEN_KEY,
    SECRET,
    TARGET,
    check,
    custom_signed,
    params,
    reference_items,
    replace,
    signed,
)

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
