"""Webhook subscriptions, their dead letters, and phrase rules, through the control API (#12).

Mounted only when the server has a webhook store (:func:`add_webhook_routes`, from
:func:`~connector.api.app.create_app`). Configured subscriptions and rules (``CONNECTOR_WEBHOOKS``,
``CONNECTOR_PHRASE_RULES``) are listed beside the stored ones but cannot be deleted here: the
configuration would bring them back at the next start. A posted rule is checked by the same
:func:`~connector.phrases.compile_rule` the sessions compile it with, so the API never stores a rule
they would refuse. Every change is stored first, then ``on_change`` runs (the server reloads its
caches and tells the other replicas); a failing hook is logged, not answered, because the change is
already durable and a client that retried would create a second subscription.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import trio
from fastapi import APIRouter, Path, Query, Response

from ..phrases import PhraseRuleError, RuleSpec, compile_rule
from ..store.records import Delivery, PhraseRule, Subscription, WebhookAuth
from ..webhooks.settings import RESERVED_HEADERS, is_loopback
from .errors import ApiError
from .guard import requires
from .models import ErrorBody
from .settings import Scope
from .webhook_models import (
    AuthIn,
    DeadLetterList,
    DeliveryView,
    PhraseRuleIn,
    PhraseRuleList,
    PhraseRuleView,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionView,
    delivery_view,
    phrase_rule_view,
    subscription_view,
)

__all__ = [
    "MAX_API_PHRASE_RULES",
    "MAX_API_SUBSCRIPTIONS",
    "WebhookOptions",
    "WebhookStore",
    "add_webhook_routes",
    "generate_signing_secret",
    "phrase_rule_records",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_API_SUBSCRIPTIONS = 100
MAX_API_PHRASE_RULES = 200
"""Stored through the API at most (every rule is searched in every final of every call)."""

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
SubscriptionId = Annotated[str, Path(alias="subscriptionId", pattern=_ID, max_length=128)]
DeliveryId = Annotated[str, Path(alias="deliveryId", pattern=_ID, max_length=128)]
RuleId = Annotated[str, Path(alias="ruleId", pattern=_ID, max_length=128)]


class WebhookStore(Protocol):
    """The store's webhook methods the API uses (synchronous, thread-safe: :class:`connector.store.Database`)."""

    def put_subscription(self, s: Subscription) -> Subscription: ...
    def subscription(self, id: str) -> Subscription | None: ...
    def subscriptions(self) -> list[Subscription]: ...
    def delete_subscription(self, id: str) -> bool: ...
    def put_phrase_rule(self, rule: PhraseRule) -> PhraseRule: ...
    def phrase_rule(self, id: str) -> PhraseRule | None: ...
    def phrase_rules(self) -> list[PhraseRule]: ...
    def delete_phrase_rule(self, id: str) -> bool: ...
    def delivery(self, id: str) -> Delivery | None: ...

    def dead_letters(self, *, cursor: str | None, limit: int) -> tuple[list[Delivery], str | None]:
        """A page of dead deliveries, newest first; an invalid ``cursor`` raises :class:`ValueError`."""
        ...

    def redrive(self, id: str, *, now: datetime) -> Delivery | None:
        """Make the dead delivery ``id`` pending again; ``None`` if it is unknown or not dead."""
        ...


def _nothing() -> Sequence[Any]:
    return ()


@dataclass(frozen=True)
class WebhookOptions:
    """What the routes need beyond the store: the configured records, the change hook, the http rule.

    The two ``config_*`` callables are called in the event loop on every read: return what is in memory.
    """

    config_subscriptions: Callable[[], Sequence[Subscription]] = _nothing
    """The subscriptions of ``CONNECTOR_WEBHOOKS`` (``source="config"``), listed but not deletable."""
    config_phrase_rules: Callable[[], Sequence[PhraseRule]] = _nothing
    """The rules of ``CONNECTOR_PHRASE_RULES`` as records (:func:`phrase_rule_records`)."""
    on_change: Callable[[], Awaitable[None]] | None = None
    """Awaited after every stored change (create, delete, redrive)."""
    allow_http: bool = False
    """Plain http to any host (``CONNECTOR_WEBHOOKS_ALLOW_HTTP``); otherwise only to loopback."""


def phrase_rule_records(rules: Iterable[RuleSpec], created_at: datetime) -> tuple[PhraseRule, ...]:
    """Configured rules as the store's records (``source="config"``), for :attr:`WebhookOptions.config_phrase_rules`."""
    return tuple(_config_rule(r, created_at) for r in rules)


def _config_rule(r: RuleSpec, created_at: datetime) -> PhraseRule:
    return PhraseRule(
        id=r.id,
        name=r.name,
        created_at=created_at,
        phrases=tuple(r.phrases),
        pattern=r.pattern,
        roles=r.roles,
        languages=r.languages,
        on_partials=r.on_partials,
        source="config",
    )


def generate_signing_secret() -> str:
    """``whsec_`` + the base64 of 24 random bytes (a Standard Webhooks secret)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


# ---------------------------------------------------------------------------- checks

def _url_problem(url: str, allow_http: bool) -> str | None:
    """What is wrong with a target URL (never quoting it: it may carry a token)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password (use auth.header or auth.oauth)"
    if parts.fragment:
        return "must not have a fragment (#...)"
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        return f"must use https (http is allowed only to loopback, and {parts.hostname} is not)"
    return None


def _secret_problem(secret: str) -> str | None:
    encoded = secret.removeprefix("whsec_")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not secret.startswith("whsec_") or not 24 <= len(raw) <= 64:
        return "must be whsec_ followed by the base64 of 24 to 64 bytes"
    return None


def _auth_problems(auth: AuthIn, https: bool, allow_http: bool) -> list[str]:
    problems = []
    if auth.signing_secret is not None and (why := _secret_problem(auth.signing_secret)):
        problems.append(f"auth.signingSecret (body): {why}")
    if auth.header is not None:
        name = auth.header.name.lower()
        if name in RESERVED_HEADERS:
            problems.append(f"auth.header.name (body): {auth.header.name} is set by the connector itself")
        elif name == "authorization" and auth.oauth is not None:
            problems.append("auth.header.name (body): Authorization carries the OAuth token; use another header")
    if auth.oauth is not None and (why := _url_problem(auth.oauth.token_url, allow_http)):
        problems.append(f"auth.oauth.tokenUrl (body): {why}")
    if auth.client_key is not None and auth.client_cert is None:
        problems.append("auth.clientKey (body): given without auth.clientCert")
    files = {"caFile": auth.ca_file, "clientCert": auth.client_cert, "clientKey": auth.client_key}
    for key, path in files.items():
        if path is not None and ".." in PurePosixPath(path).parts:
            problems.append(f"auth.{key} (body): must not contain '..'")
    if any(files.values()) and not https:
        problems.append("auth.caFile, auth.clientCert, auth.clientKey (body): need an https url")
    return problems


def _new_subscription(body: SubscriptionIn, now: datetime, allow_http: bool) -> tuple[Subscription, str | None]:
    """The subscription to store, and the signing secret generated for it (``None``: one was given)."""
    problems = []
    url = body.url.strip()
    if why := _url_problem(url, allow_http):
        problems.append(f"url (body): {why}")
    auth = body.auth or AuthIn()
    problems += _auth_problems(auth, url.lower().startswith("https:"), allow_http)
    if problems:
        raise ApiError(422, "invalid_request", "; ".join(problems))
    generated = None if auth.signing_secret is not None else generate_signing_secret()
    filters = body.filters
    subscription = Subscription(
        id=str(uuid.uuid4()),
        url=url,
        events=frozenset(body.events),
        created_at=now,
        auth=WebhookAuth(
            signing_secret=auth.signing_secret or generated,
            header_name=auth.header.name if auth.header else None,
            header_value=auth.header.value if auth.header else None,
            oauth_token_url=auth.oauth.token_url if auth.oauth else None,
            oauth_client_id=auth.oauth.client_id if auth.oauth else None,
            oauth_client_secret=auth.oauth.client_secret if auth.oauth else None,
            oauth_scope=auth.oauth.scope if auth.oauth else None,
            ca_file=auth.ca_file,
            client_cert_file=auth.client_cert,
            client_key_file=auth.client_key,
        ),
        organization_id=str(filters.organization_id) if filters and filters.organization_id else None,
        conversation_id=str(filters.conversation_id) if filters and filters.conversation_id else None,
        roles=frozenset(filters.roles) if filters else frozenset(),
        source="api",
    )
    return subscription, generated


def _new_rule(body: PhraseRuleIn, now: datetime) -> PhraseRule:
    rule = PhraseRule(
        id=str(uuid.uuid4()), name=body.name.strip(), created_at=now, phrases=tuple(body.phrases),
        pattern=body.pattern, roles=frozenset(body.roles), languages=frozenset(body.languages),
        on_partials=body.on_partials, source="api",
    )  # fmt: skip
    try:
        compile_rule(rule)
    except PhraseRuleError as exc:
        where = re.sub(r"\[(\d+)\]", r".\1", exc.field)  # phrases[2] -> phrases.2, as the other errors say
        raise ApiError(422, "invalid_request", f"{where} (body): {exc.reason}") from None
    return rule


# ---------------------------------------------------------------------------- routes

_DESCRIPTIONS = {
    400: "Malformed JSON or a bad cursor",
    401: "Missing or unknown bearer token",
    403: "The token lacks the route's scope",
    404: "No such subscription, delivery or rule",
    409: "Configured (not deletable here), not dead, or the limit is reached",
    413: "Body over CONNECTOR_API_MAX_BODY",
    415: "The body is not JSON",
    422: "Invalid input; info names the field",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s], "content": content} for s in statuses}


_INCLUDE = "payload: add each event's body (it may hold transcript text)."


def add_webhook_routes(
    router: APIRouter, store: WebhookStore, limiter: trio.CapacityLimiter, options: WebhookOptions
) -> None:
    """The ``/v1/webhooks`` and ``/v1/phrase-rules`` routes on ``router``."""

    async def in_thread(call: Callable[[], T]) -> T:
        return await trio.to_thread.run_sync(call, limiter=limiter)

    async def changed(what: str) -> None:
        if options.on_change is None:
            return
        try:
            await options.on_change()
        except Exception:
            log.exception("webhooks: the change hook failed (the change is stored)", extra={"change": what})

    def config_subscription(subscription_id: str) -> Subscription | None:
        return next((s for s in options.config_subscriptions() if s.id == subscription_id), None)

    def config_rule(rule_id: str) -> PhraseRule | None:
        return next((r for r in options.config_phrase_rules() if r.id == rule_id), None)

    write = _errors(400, 401, 403, 409, 413, 415, 422)

    # -- subscriptions -------------------------------------------------------------------------

    @router.post(
        "/v1/webhooks", tags=["webhooks"], status_code=201, openapi_extra=requires(Scope.CONTROL), responses=write,
        summary="Subscribe a URL to events (scope: control)",
    )  # fmt: skip
    async def create_subscription(body: SubscriptionIn) -> SubscriptionView:
        subscription, generated = _new_subscription(body, datetime.now(UTC), options.allow_http)

        def put() -> Subscription | None:
            if sum(s.source == "api" for s in store.subscriptions()) >= MAX_API_SUBSCRIPTIONS:
                return None
            return store.put_subscription(subscription)

        if (stored := await in_thread(put)) is None:
            raise ApiError(409, "limit_reached", f"at most {MAX_API_SUBSCRIPTIONS} subscriptions through the API")
        await changed("subscription.created")
        return subscription_view(stored, signing_secret=generated)

    @router.get(
        "/v1/webhooks", tags=["webhooks"], openapi_extra=requires(Scope.READ), responses=_errors(401, 403),
        summary="Every subscription, configured and created here, without secrets (scope: read)",
    )  # fmt: skip
    async def list_subscriptions() -> SubscriptionList:
        configured = list(options.config_subscriptions())
        ids = {s.id for s in configured}
        stored = [s for s in await in_thread(store.subscriptions) if s.id not in ids]
        return SubscriptionList(items=[subscription_view(s) for s in [*configured, *stored]])

    @router.get(
        "/v1/webhooks/dead-letters", tags=["webhooks"], openapi_extra=requires(Scope.READ),
        responses=_errors(400, 401, 403, 422), summary="Deliveries given up on, newest first (scope: read)",
    )  # fmt: skip
    async def dead_letters(
        cursor: Annotated[str | None, Query(max_length=1024, description="nextCursor of the previous page.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        include: Annotated[Literal["payload"] | None, Query(description=_INCLUDE)] = None,
    ) -> DeadLetterList:
        try:
            items, next_cursor = await in_thread(partial(store.dead_letters, cursor=cursor, limit=limit))
        except ValueError:
            raise ApiError(400, "bad_cursor", "cursor (query): not a cursor this server gave out") from None
        with_payload = include == "payload"
        return DeadLetterList(items=[delivery_view(d, payload=with_payload) for d in items], next_cursor=next_cursor)

    @router.post(
        "/v1/webhooks/deliveries/{deliveryId}/redrive", tags=["webhooks"], openapi_extra=requires(Scope.CONTROL),
        responses=_errors(401, 403, 404, 409, 422), summary="Send a dead delivery again (scope: control)",
    )  # fmt: skip
    async def redrive(delivery_id: DeliveryId) -> DeliveryView:
        def again() -> tuple[Delivery | None, Delivery | None]:
            found = store.delivery(delivery_id)
            if found is None or found.status != "dead":
                return found, None
            return found, store.redrive(delivery_id, now=datetime.now(UTC))

        found, redriven = await in_thread(again)
        if found is None:
            raise ApiError(404, "not_found", f"no delivery {delivery_id}")
        if redriven is None:
            raise ApiError(409, "not_dead", f"delivery {delivery_id} is {found.status}, not dead")
        await changed("delivery.redriven")
        return delivery_view(redriven)

    @router.get(
        "/v1/webhooks/{subscriptionId}", tags=["webhooks"], openapi_extra=requires(Scope.READ),
        responses=_errors(401, 403, 404, 422), summary="One subscription, without secrets (scope: read)",
    )  # fmt: skip
    async def get_subscription(subscription_id: SubscriptionId) -> SubscriptionView:
        found = config_subscription(subscription_id) or await in_thread(partial(store.subscription, subscription_id))
        if found is None:
            raise ApiError(404, "not_found", f"no subscription {subscription_id}")
        return subscription_view(found)

    @router.delete(
        "/v1/webhooks/{subscriptionId}", tags=["webhooks"], status_code=204, response_class=Response,
        openapi_extra=requires(Scope.CONTROL), responses=_errors(401, 403, 404, 409, 422),
        summary="Delete a subscription and its pending deliveries (scope: control)",
    )  # fmt: skip
    async def delete_subscription(subscription_id: SubscriptionId) -> Response:
        def delete() -> Subscription | bool:
            found = store.subscription(subscription_id)
            if found is not None and found.source == "config":
                return found
            return store.delete_subscription(subscription_id)

        configured = config_subscription(subscription_id)
        outcome = configured if configured is not None else await in_thread(delete)
        if isinstance(outcome, Subscription):
            info = f"subscription {subscription_id} is configured: change CONNECTOR_WEBHOOKS"
            raise ApiError(409, "configured", info)
        if not outcome:
            raise ApiError(404, "not_found", f"no subscription {subscription_id}")
        await changed("subscription.deleted")
        return Response(status_code=204)

    # -- phrase rules --------------------------------------------------------------------------

    @router.post(
        "/v1/phrase-rules", tags=["phrase rules"], status_code=201, openapi_extra=requires(Scope.CONTROL),
        responses=write, summary="Listen for phrases or a pattern (scope: control)",
    )  # fmt: skip
    async def create_rule(body: PhraseRuleIn) -> PhraseRuleView:
        rule = _new_rule(body, datetime.now(UTC))

        def put() -> PhraseRule | None:
            if sum(r.source == "api" for r in store.phrase_rules()) >= MAX_API_PHRASE_RULES:
                return None
            return store.put_phrase_rule(rule)

        if (stored := await in_thread(put)) is None:
            raise ApiError(409, "limit_reached", f"at most {MAX_API_PHRASE_RULES} phrase rules through the API")
        await changed("phrase_rule.created")
        return phrase_rule_view(stored)

    @router.get(
        "/v1/phrase-rules", tags=["phrase rules"], openapi_extra=requires(Scope.READ), responses=_errors(401, 403),
        summary="Every phrase rule, configured and created here (scope: read)",
    )  # fmt: skip
    async def list_rules() -> PhraseRuleList:
        configured = list(options.config_phrase_rules())
        ids = {r.id for r in configured}
        stored = [r for r in await in_thread(store.phrase_rules) if r.id not in ids]
        return PhraseRuleList(items=[phrase_rule_view(r) for r in [*configured, *stored]])

    @router.get(
        "/v1/phrase-rules/{ruleId}", tags=["phrase rules"], openapi_extra=requires(Scope.READ),
        responses=_errors(401, 403, 404, 422), summary="One phrase rule (scope: read)",
    )  # fmt: skip
    async def get_rule(rule_id: RuleId) -> PhraseRuleView:
        found = config_rule(rule_id) or await in_thread(partial(store.phrase_rule, rule_id))
        if found is None:
            raise ApiError(404, "not_found", f"no phrase rule {rule_id}")
        return phrase_rule_view(found)

    @router.delete(
        "/v1/phrase-rules/{ruleId}", tags=["phrase rules"], status_code=204, response_class=Response,
        openapi_extra=requires(Scope.CONTROL), responses=_errors(401, 403, 404, 409, 422),
        summary="Delete a phrase rule (scope: control)",
    )  # fmt: skip
    async def delete_rule(rule_id: RuleId) -> Response:
        def delete() -> PhraseRule | bool:
            found = store.phrase_rule(rule_id)
            if found is not None and found.source == "config":
                return found
            return store.delete_phrase_rule(rule_id)

        configured = config_rule(rule_id)
        outcome = configured if configured is not None else await in_thread(delete)
        if isinstance(outcome, PhraseRule):
            raise ApiError(409, "configured", f"phrase rule {rule_id} is configured: change CONNECTOR_PHRASE_RULES")
        if not outcome:
            raise ApiError(404, "not_found", f"no phrase rule {rule_id}")
        await changed("phrase_rule.deleted")
        return Response(status_code=204)
