"""HTTP Message Signatures (RFC 9421 subset) as Genesys AudioHook uses them, without any I/O.

Genesys signs the WebSocket upgrade with HMAC-SHA256 over a *signature base* built from a few
request components. This module holds the pieces both ends need: a strict parser and serializer
for the RFC 8941 structured-field dictionaries carried in ``Signature-Input`` and ``Signature``,
the signature base, the derived component values, and :func:`sign_request` (the reference
client's exact layout, used by our simulator and tests). Policy — which components and
parameters are acceptable, time windows, replay — lives in :mod:`.authenticator`.

The ``@signature-params`` line is built by *re-serializing* the parsed inner list (as RFC 9421
says and the reference verifier does), so odd whitespace or padding in the header cannot be
smuggled into the signed bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_LABEL",
    "REFERENCE_COMPONENTS",
    "BareItem",
    "InnerList",
    "Item",
    "Params",
    "SignatureFormatError",
    "Token",
    "canonicalize_field_value",
    "compute_signature",
    "derived_component",
    "parse_signature",
    "parse_signature_input",
    "sign_request",
    "signature_base",
]

DEFAULT_LABEL = "sig1"
#: Covered components, in the order the reference client and the Genesys docs use.
REFERENCE_COMPONENTS: tuple[str, ...] = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)


class SignatureFormatError(ValueError):
    """A ``Signature``/``Signature-Input`` value or a component value is malformed."""


class Token(str):
    """An RFC 8941 token (serialized bare, unlike a string)."""

    __slots__ = ()


BareItem = str | int | bool | bytes  # str covers Token; Decimal is rejected (unused here)
Params = tuple[tuple[str, BareItem], ...]


@dataclass(frozen=True)
class Item:
    value: BareItem
    params: Params = ()


@dataclass(frozen=True)
class InnerList:
    items: tuple[Item, ...]
    params: Params = ()

    def serialize(self) -> str:
        """Canonical RFC 8941 text: what ``@signature-params`` signs."""
        return "(" + " ".join(_ser_item(i) for i in self.items) + ")" + _ser_params(self.params)

    def param(self, key: str) -> BareItem | None:
        return next((v for k, v in self.params if k == key), None)


# --- RFC 8941 parsing (dictionary subset; decimals unsupported) --------------------------------

_KEY_RE = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN_RE = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INT_RE = re.compile(r"-?[0-9]{1,15}")
_B64_RE = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise SignatureFormatError("structured field contains non-ASCII characters")
        self.s = text.strip(" \t")
        self.i = 0

    def _peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def _fail(self, what: str) -> SignatureFormatError:
        return SignatureFormatError(f"malformed structured field: {what} at offset {self.i}")

    def _match(self, pattern: re.Pattern[str], what: str) -> str:
        m = pattern.match(self.s, self.i)
        if not m or not m.group():
            raise self._fail(f"expected {what}")
        self.i = m.end()
        return m.group()

    def dictionary(self) -> dict[str, Item | InnerList]:
        out: dict[str, Item | InnerList] = {}
        while self.i < len(self.s):
            key = self._match(_KEY_RE, "dictionary key")
            if key in out:
                raise self._fail("duplicate dictionary key")
            if self._peek() == "=":
                self.i += 1
                out[key] = self.inner_list() if self._peek() == "(" else self.item()
            else:
                out[key] = Item(True, self.params())
            while self._peek() in (" ", "\t"):
                self.i += 1
            if self.i >= len(self.s):
                break
            if self._peek() != ",":
                raise self._fail("expected ','")
            self.i += 1
            while self._peek() in (" ", "\t"):
                self.i += 1
            if self.i >= len(self.s):
                raise self._fail("trailing comma")
        return out

    def inner_list(self) -> InnerList:
        self.i += 1  # "("
        items: list[Item] = []
        while True:
            while self._peek() == " ":
                self.i += 1
            if self._peek() == ")":
                self.i += 1
                return InnerList(tuple(items), self.params())
            items.append(self.item())
            if self._peek() not in (" ", ")"):
                raise self._fail("expected ' ' or ')' in inner list")

    def item(self) -> Item:
        return Item(self.bare_item(), self.params())

    def params(self) -> Params:
        out: list[tuple[str, BareItem]] = []
        while self._peek() == ";":
            self.i += 1
            while self._peek() == " ":
                self.i += 1
            key = self._match(_KEY_RE, "parameter key")
            if any(k == key for k, _ in out):
                raise self._fail("duplicate parameter")
            value: BareItem = True
            if self._peek() == "=":
                self.i += 1
                value = self.bare_item()
            out.append((key, value))
        return tuple(out)

    def bare_item(self) -> BareItem:
        c = self._peek()
        if c == "-" or c.isdigit():
            text = self._match(_INT_RE, "integer")
            if self._peek() == "." or self._peek().isdigit():
                raise self._fail("decimals and integers over 15 digits are not supported")
            return int(text)
        if c == '"':
            return self._string()
        if c == ":":
            self.i += 1
            m = _B64_RE.match(self.s, self.i)
            text = m.group() if m else ""
            self.i += len(text)
            if self._peek() != ":":
                raise self._fail("unterminated byte sequence")
            self.i += 1
            try:
                return base64.b64decode(text, validate=True)
            except binascii.Error:
                raise self._fail("invalid base64 in byte sequence") from None
        if c == "?":
            if self.s[self.i + 1 : self.i + 2] not in ("0", "1"):
                raise self._fail("invalid boolean")
            self.i += 2
            return self.s[self.i - 1] == "1"
        if c == "*" or c.isalpha():
            return Token(self._match(_TOKEN_RE, "token"))
        raise self._fail("expected an item")

    def _string(self) -> str:
        self.i += 1
        out: list[str] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            self.i += 1
            if c == "\\":
                nxt = self._peek()
                if nxt not in ('"', "\\"):
                    raise self._fail("invalid escape in string")
                out.append(nxt)
                self.i += 1
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                raise self._fail("invalid character in string")
            else:
                out.append(c)
        raise self._fail("unterminated string")


def _parse_dictionary(value: str) -> dict[str, Item | InnerList]:
    parsed = _Parser(value).dictionary()
    if not parsed:
        raise SignatureFormatError("empty structured field dictionary")
    return parsed


def parse_signature_input(value: str) -> dict[str, InnerList]:
    """Parse ``Signature-Input``: every member must be an inner list (label → covered components)."""
    out: dict[str, InnerList] = {}
    for label, member in _parse_dictionary(value).items():
        if not isinstance(member, InnerList):
            raise SignatureFormatError("Signature-Input member is not an inner list")
        out[label] = member
    return out


def parse_signature(value: str) -> dict[str, bytes]:
    """Parse ``Signature``: every member must be a byte sequence without parameters."""
    out: dict[str, bytes] = {}
    for label, member in _parse_dictionary(value).items():
        if not isinstance(member, Item) or not isinstance(member.value, bytes) or member.params:
            raise SignatureFormatError("Signature member is not a plain byte sequence")
        out[label] = member.value
    return out


# --- serialization --------------------------------------------------------------------------------


def _ser_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ser_params(params: Params) -> str:
    return "".join(f";{k}" if v is True else f";{k}={_ser_bare(v)}" for k, v in params)


def _ser_item(item: Item) -> str:
    return _ser_bare(item.value) + _ser_params(item.params)


# --- signature base and values --------------------------------------------------------------------

_OBS_FOLD_RE = re.compile(r"[ \t]*\r?\n[ \t]+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def canonicalize_field_value(value: str) -> str:
    """Header value as signed: trimmed, obsolete line folding replaced by one space."""
    return _OBS_FOLD_RE.sub(" ", value.strip(" \t"))


def derived_component(name: str, *, method: str, target: str, authority: str, scheme: str) -> str | None:
    """Value of a derived component for a request, or None when it has none (``@status``, unknown).

    ``target`` is the raw request target (path plus query, as received); ``authority`` the
    lower-cased ``Host`` value.
    """
    if target.startswith("/"):
        path, sep, query = target.partition("?")
    else:  # absolute-form or asterisk-form; not used by WebSocket upgrades, handled for completeness
        parts = urlsplit(target)
        path, sep, query = parts.path, "?" if parts.query else "", parts.query
    values = {
        "@method": method,
        "@authority": authority,
        "@scheme": scheme.lower(),
        "@request-target": target,
        "@target-uri": target if not target.startswith("/") else f"{scheme.lower()}://{authority}{target}",
        "@path": path or "/",
        "@query": "?" + query if sep else "?",
    }
    return values.get(name)


def signature_base(
    components: Sequence[str], component_values: Mapping[str, str], signature_params_text: str
) -> str:
    """The exact text that is HMAC'd: one ``"name": value`` line per component, then the params line.

    Header (non-``@``) values are canonicalized here; any remaining control character (a bare
    CR/LF could forge extra lines) is rejected.
    """
    lines: list[str] = []
    for name in components:
        if name not in component_values:
            raise SignatureFormatError(f"no value for covered component {name!r}")
        value = component_values[name]
        if not name.startswith("@"):
            value = canonicalize_field_value(value)
        if _CONTROL_RE.search(value) or _CONTROL_RE.search(name):
            raise SignatureFormatError("control character in a covered component")
        lines.append(f"{_ser_bare(name)}: {value}")
    lines.append(f'"@signature-params": {signature_params_text}')
    return "\n".join(lines)


def compute_signature(key: bytes, base: str) -> bytes:
    """HMAC-SHA256 of the signature base (UTF-8; never raises on odd input)."""
    return hmac.new(key, base.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def sign_request(
    *,
    api_key: str,
    client_secret_b64: str,
    host: str,
    target: str,
    organization_id: str,
    session_id: str,
    correlation_id: str,
    nonce: str | None = None,
    created: int | None = None,
    expires: int | None = None,
) -> dict[str, str]:
    """Sign an upgrade request the way the Genesys reference client does.

    Returns the ``Signature-Input`` and ``Signature`` header values. ``created`` defaults to the
    current time (the one clock read in this module: it is the client side); ``expires`` to
    ``created + 30``; ``nonce`` to 18 random bytes in base64.
    """
    try:
        key = base64.b64decode(client_secret_b64, validate=True)
    except binascii.Error:
        raise ValueError("client secret is not valid base64") from None
    created = int(time.time()) if created is None else created
    params: Params = (
        ("keyid", api_key),
        ("nonce", nonce if nonce is not None else base64.b64encode(secrets.token_bytes(18)).decode()),
        ("alg", "hmac-sha256"),
        ("created", created),
        ("expires", created + 30 if expires is None else expires),
    )
    covered = InnerList(tuple(Item(name) for name in REFERENCE_COMPONENTS), params)
    values = {
        "@request-target": target,
        "@authority": host.lower(),
        "audiohook-organization-id": organization_id,
        "audiohook-session-id": session_id,
        "audiohook-correlation-id": correlation_id,
        "x-api-key": api_key,
    }
    params_text = covered.serialize()
    signature = compute_signature(key, signature_base(REFERENCE_COMPONENTS, values, params_text))
    return {
        "Signature-Input": f"{DEFAULT_LABEL}={params_text}",
        "Signature": f"{DEFAULT_LABEL}={_ser_bare(signature)}",
    }
