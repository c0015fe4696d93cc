"""Webhook settings from the environment, and the subscriptions the configuration declares.

``CONNECTOR_WEBHOOKS`` (or the file named by ``CONNECTOR_WEBHOOKS_FILE``) is a JSON list of
subscriptions; everything in it is checked here, at start-up, so a typo fails the deployment
instead of dead-lettering a day of deliveries. The JSON holds secrets (signing secrets, static
headers, OAuth client secrets), so no message here ever quotes a value from it: a subscription
is named by its position and id, a URL only by its scheme and host.

A configured subscription gets ``source="config"`` and a stable id (the one given, or
``config-`` + a SHA-256 prefix of its URL and events), so its pending deliveries find it again
after a restart; give an explicit ``"id"`` to keep it across a change of URL or events.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import standardwebhooks

from ..envparse import EnvReader
from ..store.records import WEBHOOK_EVENTS, Subscription, WebhookAuth
from .auth import TlsError, tls_context

__all__ = ["RESERVED_HEADERS", "ROLES", "WebhookSettings", "config_id", "is_loopback"]

ROLES = ("external", "internal")
"""Channel roles a subscription may filter on."""

_KEYS = frozenset({
    "id", "url", "events", "organizationId", "conversationId", "roles", "signingSecret", "header", "oauth",
    "caFile", "clientCert", "clientKey",
})  # fmt: skip
_OAUTH_KEYS = frozenset({"tokenUrl", "clientId", "clientSecret", "scope"})
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An HTTP header name (RFC 9110 ``token``)."""
RESERVED_HEADERS = frozenset({
    "content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection",
    "webhook-id", "webhook-timestamp", "webhook-signature",
})  # fmt: skip
"""Headers the client sets itself; a static header may not replace them."""


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """``CONNECTOR_WEBHOOK*`` variables (docs/configuration.md)."""

    subscriptions: tuple[Subscription, ...] = ()
    """From ``CONNECTOR_WEBHOOKS`` / ``CONNECTOR_WEBHOOKS_FILE`` (``source="config"``)."""
    max_age: float = 86_400.0
    """Seconds after its creation a delivery still failing is dead-lettered."""
    timeout: float = 10.0
    """Seconds one HTTP request (a delivery, or a token fetch) may take in all."""
    concurrency: int = 16
    """Requests in flight per target (scheme, host and port)."""
    retry_base: float = 1.0
    retry_max: float = 300.0
    """Back-off: full jitter up to ``retry_base * 2**(attempts-1)``, at most ``retry_max`` (Retry-After too)."""
    lease: float = 60.0
    """Seconds a claimed delivery belongs to this replica; must cover the wait for its target and one attempt."""
    allow_http: bool = False
    """Plain ``http://`` to hosts other than loopback (``CONNECTOR_WEBHOOKS_ALLOW_HTTP``)."""

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], read: EnvReader | None = None, *, now: datetime | None = None
    ) -> WebhookSettings:
        """Read the variables; with ``read`` given, problems are collected there (else raised together)."""
        own = read is None
        read = read or EnvReader(env, collect=True)
        default = cls()
        timeout = read.number("CONNECTOR_WEBHOOK_TIMEOUT", default.timeout, above=0)
        lease = read.number("CONNECTOR_WEBHOOK_LEASE", default.lease, above=0)
        if lease <= 2 * timeout:
            read.problem(
                "CONNECTOR_WEBHOOK_LEASE: must be more than twice CONNECTOR_WEBHOOK_TIMEOUT "
                f"({lease:g} s <= 2 x {timeout:g} s): a claimed delivery must be sent before its lease ends"
            )
        retry_base = read.number("CONNECTOR_WEBHOOK_RETRY_BASE", default.retry_base, above=0)
        retry_max = read.number("CONNECTOR_WEBHOOK_RETRY_MAX", default.retry_max, above=0)
        if retry_max < retry_base:
            read.problem("CONNECTOR_WEBHOOK_RETRY_MAX: must be at least CONNECTOR_WEBHOOK_RETRY_BASE")
        allow_http = read.flag("CONNECTOR_WEBHOOKS_ALLOW_HTTP", default.allow_http)
        settings = cls(
            subscriptions=_subscriptions(read, allow_http, now or datetime.now(UTC)),
            max_age=read.number("CONNECTOR_WEBHOOK_MAX_AGE", default.max_age, above=0),
            timeout=timeout,
            concurrency=read.integer("CONNECTOR_WEBHOOK_CONCURRENCY", default.concurrency, low=1),
            retry_base=retry_base,
            retry_max=retry_max,
            lease=lease,
            allow_http=allow_http,
        )
        if own:
            read.raise_problems()
        return settings


def config_id(url: str, events: Sequence[str]) -> str:
    """The stable id of a configured subscription given without one."""
    digest = hashlib.sha256("\n".join([url, *sorted(set(events))]).encode("utf-8")).hexdigest()
    return f"config-{digest[:16]}"


def _subscriptions(read: EnvReader, allow_http: bool, now: datetime) -> tuple[Subscription, ...]:
    text, name = _source(read)
    if text is None:
        return ()
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:  # the message says where, not what (the text holds secrets)
        read.problem(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
        return ()
    if not isinstance(items, list):
        read.problem(f"{name}: must be a JSON list of subscriptions")
        return ()
    found: list[Subscription] = []
    for index, item in enumerate(items):
        problems: list[str] = []
        subscription = _subscription(item, allow_http, now, problems)
        label = f"{name}[{index}]"
        if isinstance(item, dict) and isinstance(item.get("id"), str) and _ID.match(item["id"]):
            label += f" (id {item['id']!r})"
        for problem in problems:
            read.problem(f"{label}: {problem}")
        if subscription is not None and not problems:
            if any(other.id == subscription.id for other in found):
                read.problem(
                    f"{label}: duplicate subscription id {subscription.id!r} "
                    '(two subscriptions with the same URL and events need an explicit, different "id")'
                )
                continue
            found.append(subscription)
    return tuple(found)


def _source(read: EnvReader) -> tuple[str | None, str]:
    inline = read.text("CONNECTOR_WEBHOOKS")
    path = read.text("CONNECTOR_WEBHOOKS_FILE")
    if inline and path:
        read.problem("CONNECTOR_WEBHOOKS, CONNECTOR_WEBHOOKS_FILE: set one of them, not both")
        return None, ""
    if path:
        try:
            return Path(path).read_text(encoding="utf-8"), "CONNECTOR_WEBHOOKS_FILE"
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            read.problem(f"CONNECTOR_WEBHOOKS_FILE: {path!r} cannot be read ({reason})")
            return None, ""
    return (inline or None), "CONNECTOR_WEBHOOKS"


def _subscription(item: Any, allow_http: bool, now: datetime, problems: list[str]) -> Subscription | None:
    if not isinstance(item, dict):
        problems.append("must be a JSON object")
        return None
    if unknown := sorted(set(item) - _KEYS):
        problems.append(f"unknown keys {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(_KEYS))})")
    url = _url(item.get("url"), "url", allow_http, problems)
    events = _strings(item, "events", problems, required=True)
    if bad := sorted(set(events) - set(WEBHOOK_EVENTS)):
        problems.append(f"events: unknown {', '.join(map(repr, bad))} (known: {', '.join(WEBHOOK_EVENTS)})")
    roles = _strings(item, "roles", problems)
    if bad := sorted(set(roles) - set(ROLES)):
        problems.append(f"roles: unknown {', '.join(map(repr, bad))} (known: {', '.join(ROLES)})")
    ident = item.get("id")
    if ident is not None and not (isinstance(ident, str) and _ID.match(ident)):
        problems.append("id: must be 1 to 128 letters, digits or . _ : - (starting with a letter or digit)")
    auth = _auth(item, url, allow_http, problems)
    if problems or url is None or auth is None:
        return None
    return Subscription(
        id=ident if isinstance(ident, str) else config_id(url, events),
        url=url,
        events=frozenset(events),
        created_at=now,
        auth=auth,
        organization_id=_optional_text(item, "organizationId", problems),
        conversation_id=_optional_text(item, "conversationId", problems),
        roles=frozenset(roles),
        source="config",
    )


def _url(value: Any, key: str, allow_http: bool, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: required, an absolute https URL")
        return None
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        problems.append(f"{key}: not a valid URL")
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems.append(f"{key}: must be an absolute https URL")
        return None
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        problems.append(
            f"{key}: must use https (http://{parts.hostname} is not loopback; "
            "CONNECTOR_WEBHOOKS_ALLOW_HTTP=true allows plain HTTP)"
        )
        return None
    return value.strip()


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address: plain HTTP to it never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _strings(item: Mapping[str, Any], key: str, problems: list[str], *, required: bool = False) -> list[str]:
    value = item.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or (required and not value):
        problems.append(f"{key}: must be a {'non-empty ' if required else ''}list of strings")
        return []
    return list(value)


def _optional_text(item: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: must be a non-empty string")
        return None
    return value.strip()


def _secret(item: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    """A secret string: checked as any text, whose problems never quote the value."""
    return _optional_text(item, key, problems)


def _auth(item: Mapping[str, Any], url: str | None, allow_http: bool, problems: list[str]) -> WebhookAuth | None:
    before = len(problems)
    signing = _secret(item, "signingSecret", problems)
    if signing is not None:
        try:
            standardwebhooks.Webhook(signing)
        except Exception:  # binascii.Error, EmptyWebhookSecretError: either way, not a usable secret
            problems.append("signingSecret: not a Standard Webhooks secret (whsec_ followed by base64)")
    header_name, header_value = _header(item, problems)
    oauth = _oauth(item, allow_http, problems)
    if header_name is not None and oauth is not None and header_name.lower() == "authorization":
        problems.append("header: Authorization is the OAuth bearer token here; use another header name")
    files = {key: _optional_text(item, key, problems) for key in ("caFile", "clientCert", "clientKey")}
    if files["clientKey"] and not files["clientCert"]:
        problems.append("clientKey: given without clientCert")
    if any(files.values()) and url is not None and urlsplit(url).scheme != "https":
        problems.append("caFile, clientCert, clientKey: need an https url")
    if len(problems) > before:
        return None
    auth = WebhookAuth(
        signing_secret=signing,
        header_name=header_name,
        header_value=header_value,
        oauth_token_url=oauth[0] if oauth else None,
        oauth_client_id=oauth[1] if oauth else None,
        oauth_client_secret=oauth[2] if oauth else None,
        oauth_scope=oauth[3] if oauth else None,
        ca_file=files["caFile"],
        client_cert_file=files["clientCert"],
        client_key_file=files["clientKey"],
    )
    try:
        tls_context(auth)  # load the files now: a missing or wrong certificate fails the start, not every delivery
    except TlsError as exc:
        problems.append(str(exc))
        return None
    return auth


def _header(item: Mapping[str, Any], problems: list[str]) -> tuple[str | None, str | None]:
    header = item.get("header")
    if header is None:
        return None, None
    if not isinstance(header, dict) or set(header) != {"name", "value"}:
        problems.append('header: must be {"name": ..., "value": ...}')
        return None, None
    name, value = header["name"], header["value"]
    if not isinstance(name, str) or not _TOKEN.match(name):
        problems.append("header: name must be an HTTP header name")
        return None, None
    if name.lower() in RESERVED_HEADERS:
        problems.append(f"header: {name} is set by the connector itself")
        return None, None
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\r\n\0"):
        problems.append(f"header: the value of {name} must be a non-empty single line")  # the value is not quoted
        return None, None
    return name, value.strip()


def _oauth(item: Mapping[str, Any], allow_http: bool, problems: list[str]) -> tuple[str, str, str, str | None] | None:
    oauth = item.get("oauth")
    if oauth is None:
        return None
    if not isinstance(oauth, dict):
        problems.append('oauth: must be {"tokenUrl", "clientId", "clientSecret", "scope"?}')
        return None
    mine: list[str] = []
    if unknown := sorted(set(oauth) - _OAUTH_KEYS):
        mine.append(f"unknown keys {', '.join(map(repr, unknown))}")
    token_url = _url(oauth.get("tokenUrl"), "tokenUrl", allow_http, mine)
    client_id = _optional_text(oauth, "clientId", mine)
    secret = _secret(oauth, "clientSecret", mine)
    scope = _optional_text(oauth, "scope", mine)
    if client_id is None and not any(p.startswith("clientId") for p in mine):
        mine.append("clientId: required")
    if secret is None and not any(p.startswith("clientSecret") for p in mine):
        mine.append("clientSecret: required")
    problems.extend(f"oauth.{p}" for p in mine)
    if mine or token_url is None or client_id is None or secret is None:
        return None
    return token_url, client_id, secret, scope
