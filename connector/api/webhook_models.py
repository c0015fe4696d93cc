"""The bodies of the webhook and phrase-rule routes, and their views of the store's records.

Requests take camelCase names only and forbid unknown fields, like every other body of the API.
Views never carry a secret: the signing secret, a static header's value and an OAuth client secret
are ``"***"`` (only the signing secret the server generates is shown, once, in the 201 that
creates it), and a URL's user information and query string, where a target's own token often
travels, are ``***`` too. A delivery's ``payload`` may hold transcript text, so a view has it only
when the caller asks (``include=payload``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..phrases.rules import MAX_LANGUAGES, MAX_NAME_CHARS, MAX_PATTERN_CHARS, MAX_PHRASE_CHARS, MAX_PHRASES
from ..store.records import Delivery, PhraseRule, Subscription, WebhookEvent
from .models import Language, UtcTime

__all__ = [
    "REDACTED",
    "AuthIn",
    "AuthView",
    "DeadLetterList",
    "DeliveryView",
    "FiltersIn",
    "FiltersView",
    "HeaderIn",
    "HeaderView",
    "OAuthIn",
    "OAuthView",
    "PhraseRuleIn",
    "PhraseRuleList",
    "PhraseRuleView",
    "SubscriptionIn",
    "SubscriptionList",
    "SubscriptionView",
    "delivery_view",
    "phrase_rule_view",
    "redacted_url",
    "subscription_view",
]

REDACTED = "***"
HEADER_NAME = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
"""An HTTP header name (RFC 9110 ``token``)."""
Role = Literal["external", "internal"]
Path_ = Annotated[
    str, Field(min_length=2, max_length=1024, pattern=r"^/", description="An absolute path on the server.")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, validate_by_name=False, validate_by_alias=True)


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True)


# ---------------------------------------------------------------------------- requests


class HeaderIn(_In):
    """A static header sent with every delivery (``Authorization: Bearer ...``, ``X-Api-Key: ...``)."""

    name: str = Field(max_length=64, pattern=HEADER_NAME, examples=["X-Api-Key"])
    value: str = Field(min_length=1, max_length=4096, pattern=r"^[^\r\n\x00]+$", repr=False)


class OAuthIn(_In):
    """OAuth2 client credentials: a token is fetched from ``tokenUrl`` and sent as ``Authorization: Bearer``."""

    token_url: str = Field(min_length=1, max_length=2048, examples=["https://auth.example.com/oauth/token"])
    client_id: str = Field(min_length=1, max_length=256)
    client_secret: str = Field(min_length=1, max_length=4096, repr=False)
    scope: str | None = Field(default=None, min_length=1, max_length=1024)


class AuthIn(_In):
    """How deliveries authenticate; every part optional (a signing secret is generated when none is given)."""

    signing_secret: str | None = Field(
        default=None, max_length=200, repr=False,
        description="Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 bytes. "
        "Omitted: the server generates one and returns it once, in the 201.",
    )  # fmt: skip
    header: HeaderIn | None = None
    oauth: OAuthIn | None = None
    ca_file: Path_ | None = Field(default=None, description="PEM bundle the target's certificate must chain to.")
    client_cert: Path_ | None = Field(default=None, description="Mutual TLS: the client certificate (PEM).")
    client_key: Path_ | None = Field(default=None, description="Mutual TLS: its private key (PEM).")


class FiltersIn(_In):
    """Only events of this organization, conversation or these channel roles (each optional)."""

    organization_id: UUID | None = None
    conversation_id: UUID | None = None
    roles: list[Role] = Field(default_factory=list, max_length=2, description="Empty: both roles.")


class SubscriptionIn(_In):
    """A webhook subscription: where events go, which events, and for which calls."""

    url: str = Field(min_length=1, max_length=2048, examples=["https://hooks.example.com/audiohook"])
    events: list[WebhookEvent] = Field(min_length=1, max_length=10, examples=[["utterance.final", "phrase.detected"]])
    filters: FiltersIn | None = None
    auth: AuthIn | None = None


class PhraseRuleIn(_In):
    """A phrase rule: phrases (whole words, any case) or a regular expression, or both."""

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, examples=["Cancellation"])
    phrases: list[Annotated[str, Field(min_length=1, max_length=MAX_PHRASE_CHARS)]] = Field(
        default_factory=list, max_length=MAX_PHRASES, examples=[["cancel my account", "close my account"]]
    )
    pattern: str | None = Field(
        default=None, min_length=1, max_length=MAX_PATTERN_CHARS, examples=[r"\b(?:\d[ -]?){13,16}\b"],
        description="A Python regular expression, case-insensitive unless it says (?-i:...).",
    )  # fmt: skip
    roles: list[Role] = Field(default_factory=list, max_length=2, description="Empty: both roles.")
    languages: list[Language] = Field(
        default_factory=list, max_length=MAX_LANGUAGES, description="Tags (en-US) or primary subtags (en); empty: all."
    )
    on_partials: bool = Field(default=False, description="Search partials too (faster), not only finals.")


# ---------------------------------------------------------------------------- views


class HeaderView(_Out):
    name: str
    value: str = Field(examples=[REDACTED])


class OAuthView(_Out):
    token_url: str
    client_id: str
    client_secret: str = Field(examples=[REDACTED])
    scope: str | None


class AuthView(_Out):
    signing_secret: str | None = Field(
        description='"***", or the generated secret in the 201 that created it (shown once).', examples=[REDACTED]
    )
    header: HeaderView | None
    oauth: OAuthView | None
    ca_file: str | None
    client_cert: str | None
    client_key: str | None


class FiltersView(_Out):
    organization_id: str | None
    conversation_id: str | None
    roles: list[str]


class SubscriptionView(_Out):
    id: str
    url: str = Field(description="As given, but for user information and a query string (***).")
    events: list[str]
    filters: FiltersView
    auth: AuthView
    source: Literal["config", "api"] = Field(description="config: from CONNECTOR_WEBHOOKS (not deletable here).")
    enabled: bool
    created_at: UtcTime


class SubscriptionList(_Out):
    items: list[SubscriptionView]


class DeliveryView(_Out):
    id: str = Field(description="The webhook-id the receiver de-duplicates on.")
    subscription_id: str
    conversation_id: str
    event: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    last_error: str | None
    created_at: UtcTime
    next_attempt_at: UtcTime
    delivered_at: UtcTime | None
    payload: dict[str, Any] | None = Field(
        default=None, description="The event body; null unless include=payload (it may hold transcript text)."
    )


class DeadLetterList(_Out):
    items: list[DeliveryView]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


class PhraseRuleView(_Out):
    id: str
    name: str
    phrases: list[str]
    pattern: str | None
    roles: list[str]
    languages: list[str]
    on_partials: bool
    source: Literal["config", "api"] = Field(description="config: from CONNECTOR_PHRASE_RULES (not deletable here).")
    created_at: UtcTime


class PhraseRuleList(_Out):
    items: list[PhraseRuleView]


def redacted_url(url: str) -> str:
    """``https://user:pw@host/path?token=x`` → ``https://***@host/path?***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, REDACTED if parts.query else "", ""))


def _hidden(secret: str | None) -> str | None:
    return None if secret is None else REDACTED


def subscription_view(s: Subscription, *, signing_secret: str | None = None) -> SubscriptionView:
    """``s`` without its secrets; ``signing_secret`` is shown as given (the generated one, once)."""
    auth = s.auth
    header = None
    if auth.header_name is not None:
        header = HeaderView(name=auth.header_name, value=REDACTED)
    oauth = None
    if auth.oauth_token_url is not None:
        oauth = OAuthView(
            token_url=redacted_url(auth.oauth_token_url), client_id=auth.oauth_client_id or "",
            client_secret=REDACTED, scope=auth.oauth_scope,
        )  # fmt: skip
    return SubscriptionView(
        id=s.id,
        url=redacted_url(s.url),
        events=sorted(s.events),
        filters=FiltersView(
            organization_id=s.organization_id, conversation_id=s.conversation_id, roles=sorted(s.roles)
        ),
        auth=AuthView(
            signing_secret=signing_secret or _hidden(auth.signing_secret),
            header=header,
            oauth=oauth,
            ca_file=auth.ca_file,
            client_cert=auth.client_cert_file,
            client_key=auth.client_key_file,
        ),
        source=s.source,
        enabled=s.enabled,
        created_at=s.created_at,
    )


def delivery_view(d: Delivery, *, payload: bool = False) -> DeliveryView:
    body: Mapping[str, Any] | None = d.payload if payload else None
    return DeliveryView(
        id=d.id,
        subscription_id=d.subscription_id,
        conversation_id=d.conversation_id,
        event=d.event,
        status=d.status,
        attempts=d.attempts,
        last_error=d.last_error,
        created_at=d.created_at,
        next_attempt_at=d.next_attempt_at,
        delivered_at=d.delivered_at,
        payload=dict(body) if body is not None else None,
    )


def phrase_rule_view(r: PhraseRule) -> PhraseRuleView:
    return PhraseRuleView(
        id=r.id,
        name=r.name,
        phrases=list(r.phrases),
        pattern=r.pattern,
        roles=sorted(r.roles),
        languages=sorted(r.languages),
        on_partials=r.on_partials,
        source=r.source,
        created_at=r.created_at,
    )
