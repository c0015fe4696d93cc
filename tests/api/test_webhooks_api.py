"""Webhook subscriptions, dead letters and phrase rules over the real server and the real SQLite store:
secrets redacted (but the generated signing secret, once), configured records listed and kept,
every change followed by the hook, and every bad request in the API's one error shape."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx2
import pytest
import trio

from connector.api import ApiSettings, create_app, serve_api
from connector.api.webhooks import MAX_API_PHRASE_RULES, WebhookOptions, WebhookStore, phrase_rule_records
from connector.phrases import RuleSpec
from connector.store import Database
from connector.store.records import Delivery, PhraseRule, Subscription, WebhookAuth
from tests.api.kit import BOTH, CID, CONTROL, ENV, READ, Hub, at, bearer

ORG = "d7934305-0972-4844-938e-9060eef73d05"
CONFIGURED = Subscription(
    id="config-crm", url="https://crm.example.com/hook?key=abc", events=frozenset({"utterance.final"}),
    created_at=at(0), auth=WebhookAuth(signing_secret="whsec_" + "A" * 32), source="config",
)  # fmt: skip
CONFIG_RULES = phrase_rule_records([RuleSpec(id="complaint", name="Complaint", phrases=("complaint",))], at(0))
JSON = {"Content-Type": "application/json"}


@dataclass
class Hooks:
    client: httpx2.AsyncClient
    database: Database
    changes: list[str] = field(default_factory=list)

    async def call(
        self, method: str, path: str, token: str | None = CONTROL, body: Any = None, **params: Any
    ) -> tuple[int, Any]:
        headers = bearer(token) if token else {}
        with trio.fail_after(10):
            response = await self.client.request(method, path, json=body, headers=headers, params=params or None)
        if response.status_code == 204:
            assert response.content == b""
            return 204, None
        assert response.headers["content-type"] == "application/json", response.text
        return response.status_code, response.json()


@asynccontextmanager
async def hooks_api(
    nursery: trio.Nursery, database: Database, *, fail_hook: bool = False, **options: Any
) -> AsyncIterator[Hooks]:
    settings = ApiSettings.from_env({**ENV, "CONNECTOR_API_MAX_BODY": "4096"})
    changes: list[str] = []

    async def on_change() -> None:
        changes.append("changed")
        if fail_hook:
            raise RuntimeError("the replicas could not be told")

    webhook_options = WebhookOptions(
        config_subscriptions=lambda: [CONFIGURED], config_phrase_rules=lambda: CONFIG_RULES, on_change=on_change,
        **options,
    )  # fmt: skip
    app = create_app(database, Hub(), settings, trio.CapacityLimiter(4), webhooks=database,
                     webhook_options=webhook_options)  # fmt: skip
    shutdown = trio.Event()
    with trio.fail_after(10):
        port: int = await nursery.start(partial(serve_api, app, settings, shutdown=shutdown))
    try:
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Hooks(client=client, database=database, changes=changes)
    finally:
        shutdown.set()


@pytest.fixture
async def hooks(nursery: trio.Nursery, database: Database) -> AsyncIterator[Hooks]:
    async with hooks_api(nursery, database) as running:
        yield running


FULL = {
    "url": "https://hooks.example.com/audiohook?token=t0ps3cret",
    "events": ["utterance.final", "phrase.detected", "utterance.final"],
    "filters": {"organizationId": ORG.upper(), "conversationId": CID, "roles": ["external"]},
    "auth": {
        "header": {"name": "X-Api-Key", "value": "key-value-123"},
        "oauth": {"tokenUrl": "https://auth.example.com/token", "clientId": "connector", "clientSecret": "s3cret",
                  "scope": "hooks"},
        "caFile": "/etc/connector/ca.pem", "clientCert": "/etc/connector/client.pem",
        "clientKey": "/etc/connector/client.key",
    },
}  # fmt: skip


# ---------------------------------------------------------------------------- subscriptions


async def test_create_generates_a_signing_secret_shown_once_and_redacts_the_rest(hooks: Hooks) -> None:
    status, created = await hooks.call("POST", "/v1/webhooks", body=FULL)
    assert status == 201, created
    secret = created["auth"].pop("signingSecret")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert created.pop("createdAt").endswith("Z")
    sid = created.pop("id")
    assert created == {
        "url": "https://hooks.example.com/audiohook?***",
        "events": ["phrase.detected", "utterance.final"],
        "filters": {"organizationId": ORG, "conversationId": CID, "roles": ["external"]},
        "auth": {
            "header": {"name": "X-Api-Key", "value": "***"},
            "oauth": {"tokenUrl": "https://auth.example.com/token", "clientId": "connector", "clientSecret": "***",
                      "scope": "hooks"},
            "caFile": "/etc/connector/ca.pem", "clientCert": "/etc/connector/client.pem",
            "clientKey": "/etc/connector/client.key",
        },
        "source": "api",
        "enabled": True,
    }  # fmt: skip
    stored = hooks.database.subscription(sid)
    assert stored is not None and stored.source == "api" and stored.url == FULL["url"]
    assert stored.auth.signing_secret == secret and stored.auth.header_value == "key-value-123"
    assert stored.auth.oauth_client_secret == "s3cret" and stored.organization_id == ORG
    assert stored.events == frozenset({"utterance.final", "phrase.detected"})
    assert stored.roles == frozenset({"external"})
    assert hooks.changes == ["changed"]

    status, one = await hooks.call("GET", f"/v1/webhooks/{sid}", token=READ)
    assert status == 200 and one["auth"]["signingSecret"] == "***"  # shown once: never again
    status, listed = await hooks.call("GET", "/v1/webhooks", token=READ)
    assert status == 200
    assert [(s["id"], s["source"]) for s in listed["items"]] == [("config-crm", "config"), (sid, "api")]
    assert listed["items"][0]["url"] == "https://crm.example.com/hook?***"
    assert listed["items"][0]["auth"]["signingSecret"] == "***"
    assert "t0ps3cret" not in str(listed) and secret not in str(listed)


async def test_a_given_signing_secret_is_never_returned(hooks: Hooks) -> None:
    given = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = {"url": "http://127.0.0.1:9000/hook", "events": ["conversation.ended"], "auth": {"signingSecret": given}}
    status, created = await hooks.call("POST", "/v1/webhooks", body=body)
    assert status == 201, created
    assert created["auth"] == {"signingSecret": "***", "header": None, "oauth": None, "caFile": None,
                               "clientCert": None, "clientKey": None}  # fmt: skip
    assert created["filters"] == {"organizationId": None, "conversationId": None, "roles": []}
    stored = hooks.database.subscription(created["id"])
    assert stored is not None and stored.auth.signing_secret == given


async def test_plain_http_to_loopback_and_with_allow_http(nursery: trio.Nursery, database: Database) -> None:
    async with hooks_api(nursery, database, allow_http=True) as hooks:
        status, created = await hooks.call("POST", "/v1/webhooks", body={"url": "http://hooks.internal/x",
                                                                         "events": ["utterance.final"]})  # fmt: skip
    assert status == 201, created
    for url in ("http://localhost:8080/hook", "http://[::1]/hook"):
        assert database.subscriptions()
        async with hooks_api(nursery, database) as hooks:
            status, created = await hooks.call("POST", "/v1/webhooks", body={"url": url, "events": ["utterance.final"]})
        assert status == 201, created


async def test_delete_a_subscription_but_not_a_configured_one(hooks: Hooks) -> None:
    status, created = await hooks.call("POST", "/v1/webhooks", body={"url": "https://h.example.com", "events":
                                                                    ["utterance.final"]})  # fmt: skip
    assert status == 201
    assert await hooks.call("DELETE", f"/v1/webhooks/{created['id']}") == (204, None)
    assert hooks.database.subscription(created["id"]) is None
    assert hooks.changes == ["changed", "changed"]
    status, body = await hooks.call("DELETE", f"/v1/webhooks/{created['id']}")
    assert (status, body) == (404, {"error": "not_found", "info": f"no subscription {created['id']}"})
    status, body = await hooks.call("GET", f"/v1/webhooks/{created['id']}", token=READ)
    assert (status, body["error"]) == (404, "not_found")

    status, body = await hooks.call("DELETE", "/v1/webhooks/config-crm")
    info = "subscription config-crm is configured: change CONNECTOR_WEBHOOKS"
    assert (status, body) == (409, {"error": "configured", "info": info})
    stored_config = replace(CONFIGURED, id="config-stored")  # a configured one the server also stored
    hooks.database.put_subscription(stored_config)
    status, body = await hooks.call("DELETE", "/v1/webhooks/config-stored")
    assert (status, body["error"]) == (409, "configured")
    assert hooks.database.subscription("config-stored") is not None
    status, one = await hooks.call("GET", "/v1/webhooks/config-crm", token=READ)
    assert status == 200 and one["source"] == "config"
    assert hooks.changes == ["changed", "changed"]  # refusals change nothing


async def test_a_failing_change_hook_is_logged_not_answered(
    nursery: trio.Nursery, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="connector.api.webhooks")
    async with hooks_api(nursery, database, fail_hook=True) as hooks:
        status, created = await hooks.call("POST", "/v1/webhooks", body=FULL)
    assert status == 201 and database.subscription(created["id"]) is not None
    [record] = [r for r in caplog.records if r.name == "connector.api.webhooks"]
    assert record.getMessage() == "webhooks: the change hook failed (the change is stored)"
    assert "s3cret" not in caplog.text and "key-value-123" not in caplog.text


BAD_SUBSCRIPTIONS: list[tuple[dict[str, Any], int, str, str]] = [
    ({"url": "not a url", "events": ["utterance.final"]}, 422, "invalid_request",
     "url (body): must be an absolute https URL"),
    ({"url": "ftp://files.example.com/x", "events": ["utterance.final"]}, 422, "invalid_request",
     "url (body): must be an absolute https URL"),
    ({"url": "https://example.com:port/x", "events": ["utterance.final"]}, 422, "invalid_request",
     "url (body): not a valid URL"),
    ({"url": "http://hooks.example.com/x", "events": ["utterance.final"]}, 422, "invalid_request",
     "url (body): must use https (http is allowed only to loopback, and hooks.example.com is not)"),
    ({"url": "http://10.0.0.7/x", "events": ["utterance.final"]}, 422, "invalid_request",
     "url (body): must use https (http is allowed only to loopback, and 10.0.0.7 is not)"),
    ({"url": "https://user:pw@hooks.example.com/", "events": ["utterance.final"]}, 422, "invalid_request",
     "url (body): must not hold a user name or password (use auth.header or auth.oauth)"),
    ({"url": "https://hooks.example.com/#x", "events": ["utterance.final"]}, 422, "invalid_request",
     "url (body): must not have a fragment (#...)"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.finished"]}, 422, "invalid_request",
     "events.0 (body): Input should be 'utterance.final', 'utterance.partial', 'conversation.started', "
     "'conversation.ended' or 'phrase.detected'"),
    ({"url": "https://hooks.example.com/", "events": []}, 422, "invalid_request",
     "events (body): List should have at least 1 item after validation, not 0"),
    ({"url": "https://hooks.example.com/"}, 422, "invalid_request", "events (body): Field required"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"], "filter": {}}, 422, "invalid_request",
     "filter (body): Extra inputs are not permitted"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"], "filters": {"organization_id": ORG}}, 422,
     "invalid_request", "filters.organization_id (body): Extra inputs are not permitted"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"], "filters": {"roles": ["agent"]}}, 422,
     "invalid_request", "filters.roles.0 (body): Input should be 'external' or 'internal'"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"], "filters": {"conversationId": "42"}}, 422,
     "invalid_request", "filters.conversationId (body): Input should be a valid UUID"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"], "auth": {"signingSecret": "whsec_c2hvcnQ="}},
     422, "invalid_request", "auth.signingSecret (body): must be whsec_ followed by the base64 of 24 to 64 bytes"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"],
      "auth": {"header": {"name": "Webhook-Signature", "value": "x"}}}, 422, "invalid_request",
     "auth.header.name (body): Webhook-Signature is set by the connector itself"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"],
      "auth": {"header": {"name": "X-Key", "value": "a\r\nInjected: 1"}}}, 422, "invalid_request",
     "auth.header.value (body): String should match pattern"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"],
      "auth": {"oauth": {"tokenUrl": "http://auth.example.com/t", "clientId": "c", "clientSecret": "s"}}}, 422,
     "invalid_request", "auth.oauth.tokenUrl (body): must use https"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"], "auth": {"clientKey": "/k.pem"}}, 422,
     "invalid_request", "auth.clientKey (body): given without auth.clientCert"),
    ({"url": "https://hooks.example.com/", "events": ["utterance.final"], "auth": {"caFile": "relative/ca.pem"}},
     422, "invalid_request", "auth.caFile (body): String should match pattern '^/'"),
    ({"url": "http://127.0.0.1/", "events": ["utterance.final"], "auth": {"caFile": "/ca.pem"}}, 422,
     "invalid_request", "auth.caFile, auth.clientCert, auth.clientKey (body): need an https url"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "error", "info"), BAD_SUBSCRIPTIONS)
async def test_bad_subscriptions_are_refused_naming_the_field(
    hooks: Hooks, body: dict[str, Any], status: int, error: str, info: str
) -> None:
    got_status, got = await hooks.call("POST", "/v1/webhooks", body=body)
    assert (got_status, got["error"]) == (status, error), got
    assert got["info"].startswith(info), got["info"]
    assert set(got) == {"error", "info"}
    assert "a\r\nInjected" not in got["info"] and "pw@" not in got["info"]  # no value echoed
    assert hooks.database.subscriptions() == [] and hooks.changes == []


async def test_several_problems_are_reported_together(hooks: Hooks) -> None:
    body = {"url": "http://example.com", "events": ["utterance.final"], "auth": {"signingSecret": "nope"}}
    status, got = await hooks.call("POST", "/v1/webhooks", body=body)
    assert status == 422
    assert got["info"] == (
        "url (body): must use https (http is allowed only to loopback, and example.com is not); "
        "auth.signingSecret (body): must be whsec_ followed by the base64 of 24 to 64 bytes"
    )


# ---------------------------------------------------------------------------- tokens and bodies


async def test_tokens_scopes_and_body_limits(hooks: Hooks) -> None:
    body = {"url": "https://hooks.example.com/", "events": ["utterance.final"]}
    status, got = await hooks.call("POST", "/v1/webhooks", token=None, body=body)
    assert (status, got) == (401, {"error": "unauthorized", "info": "missing 'Authorization: Bearer <token>' header"})
    status, got = await hooks.call("POST", "/v1/webhooks", token="not-a-known-token-123456", body=body)
    assert (status, got) == (401, {"error": "unauthorized", "info": "unknown token"})
    status, got = await hooks.call("POST", "/v1/webhooks", token=READ, body=body)
    assert (status, got) == (403, {"error": "forbidden", "info": "this token does not have the 'control' scope"})
    for path in ("/v1/webhooks", "/v1/webhooks/dead-letters", "/v1/phrase-rules", "/v1/phrase-rules/complaint"):
        status, got = await hooks.call("GET", path, token=CONTROL)
        assert (status, got["error"]) == (403, "forbidden"), path
    for method, path in (("DELETE", "/v1/webhooks/x"), ("POST", "/v1/webhooks/deliveries/x/redrive"),
                         ("POST", "/v1/phrase-rules"), ("DELETE", "/v1/phrase-rules/x")):  # fmt: skip
        status, got = await hooks.call(method, path, token=READ, body={})
        assert (status, got["error"]) == (403, "forbidden"), path
    oversized = {**body, "filters": {"roles": ["external"] * 2000}}
    status, got = await hooks.call("POST", "/v1/webhooks", body=oversized)
    assert (status, got) == (413, {"error": "body_too_large", "info": "the request body is over 4096 bytes"})
    with trio.fail_after(10):
        response = await hooks.client.post("/v1/webhooks", content=b"{bad", headers={**JSON, **bearer(BOTH)})
    assert (response.status_code, response.json()["error"]) == (400, "malformed_json")
    with trio.fail_after(10):
        response = await hooks.client.post("/v1/phrase-rules", content=b"name=x", headers=bearer(BOTH))
    assert (response.status_code, response.json()["error"]) == (415, "unsupported_media_type")
    status, got = await hooks.call("GET", "/v1/webhooks/not an id!", token=READ)
    assert (status, got["error"]) == (422, "invalid_request")
    assert got["info"].startswith("subscriptionId (path): String should match pattern")
    assert hooks.database.subscriptions() == [] and hooks.changes == []


# ---------------------------------------------------------------------------- dead letters


def delivery(n: int, **changes: Any) -> Delivery:
    record = Delivery(
        id=f"dlv-{n}", subscription_id="sub-1", conversation_id=CID, event="utterance.final",
        payload={"type": "utterance.final", "data": {"conversationId": CID, "text": "my card number is"}},
        created_at=at(n), next_attempt_at=at(n),
    )  # fmt: skip
    return replace(record, **changes)


def bury(database: Database, count: int) -> None:
    """``count`` dead deliveries (of separate conversations, so each is its queue's head) and one pending."""
    database.write([], [], [delivery(n, conversation_id=f"conv-{n}") for n in range(count)] + [delivery(99)])
    now = datetime.now(UTC)
    database.claim_deliveries(now=now, lease=30, limit=count, replica="test")
    for n in range(count):
        database.dead_letter(f"dlv-{n}", now=now, error=f"HTTP 50{n}")


async def test_dead_letters_page_by_page_without_payload_unless_asked(hooks: Hooks) -> None:
    bury(hooks.database, 3)
    status, first = await hooks.call("GET", "/v1/webhooks/dead-letters", token=READ, limit=2)
    assert status == 200, first
    assert [d["id"] for d in first["items"]] == ["dlv-2", "dlv-1"] and first["nextCursor"]
    item = first["items"][0]
    assert (item["status"], item["attempts"], item["lastError"], item["payload"]) == ("dead", 1, "HTTP 502", None)
    assert (item["subscriptionId"], item["conversationId"], item["event"]) == ("sub-1", "conv-2", "utterance.final")
    assert item["createdAt"].endswith("Z") and item["deliveredAt"] is None
    assert "my card number" not in str(first)
    status, second = await hooks.call(
        "GET", "/v1/webhooks/dead-letters", token=READ, limit=2, cursor=first["nextCursor"], include="payload"
    )
    assert status == 200
    assert [d["id"] for d in second["items"]] == ["dlv-0"] and second["nextCursor"] is None
    assert second["items"][0]["payload"]["data"]["text"] == "my card number is"

    status, got = await hooks.call("GET", "/v1/webhooks/dead-letters", token=READ, cursor="bogus")
    assert (status, got) == (400, {"error": "bad_cursor", "info": "cursor (query): not a cursor this server gave out"})
    status, got = await hooks.call("GET", "/v1/webhooks/dead-letters", token=READ, limit=0)
    assert (status, got["error"]) == (422, "invalid_request") and got["info"].startswith("limit (query)")
    status, got = await hooks.call("GET", "/v1/webhooks/dead-letters", token=READ, include="everything")
    assert (status, got["info"]) == (422, "include (query): Input should be 'payload'")


async def test_redrive_a_dead_delivery(hooks: Hooks) -> None:
    bury(hooks.database, 1)
    status, got = await hooks.call("POST", "/v1/webhooks/deliveries/dlv-0/redrive")
    assert status == 200, got
    assert (got["id"], got["status"], got["attempts"], got["lastError"]) == ("dlv-0", "pending", 0, "HTTP 500")
    assert got["payload"] is None
    again = hooks.database.delivery("dlv-0")
    assert again is not None and again.status == "pending"
    assert hooks.changes == ["changed"]
    status, got = await hooks.call("POST", "/v1/webhooks/deliveries/dlv-0/redrive")
    assert (status, got) == (409, {"error": "not_dead", "info": "delivery dlv-0 is pending, not dead"})
    status, got = await hooks.call("POST", "/v1/webhooks/deliveries/dlv-404/redrive")
    assert (status, got) == (404, {"error": "not_found", "info": "no delivery dlv-404"})
    assert hooks.changes == ["changed"]
    status, listed = await hooks.call("GET", "/v1/webhooks/dead-letters", token=READ)
    assert listed == {"items": [], "nextCursor": None}


# ---------------------------------------------------------------------------- phrase rules


async def test_phrase_rules_create_list_get_delete(hooks: Hooks) -> None:
    body = {"name": " Cancellation ", "phrases": ["cancel my account"], "pattern": r"\bclose\s+(?:my\s+)?account\b",
            "roles": ["external"], "languages": ["en", "fr-ca"], "onPartials": True}  # fmt: skip
    status, created = await hooks.call("POST", "/v1/phrase-rules", body=body)
    assert status == 201, created
    rid = created.pop("id")
    assert created.pop("createdAt").endswith("Z")
    assert created == {
        "name": "Cancellation", "phrases": ["cancel my account"], "pattern": body["pattern"], "roles": ["external"],
        "languages": ["en", "fr-CA"], "onPartials": True, "source": "api",
    }  # fmt: skip
    stored = hooks.database.phrase_rule(rid)
    assert stored is not None and stored.languages == frozenset({"en", "fr-CA"}) and stored.on_partials
    assert hooks.changes == ["changed"]

    status, listed = await hooks.call("GET", "/v1/phrase-rules", token=READ)
    assert [(r["id"], r["source"]) for r in listed["items"]] == [("complaint", "config"), (rid, "api")]
    status, one = await hooks.call("GET", f"/v1/phrase-rules/{rid}", token=READ)
    assert (status, one["name"]) == (200, "Cancellation")
    status, configured = await hooks.call("GET", "/v1/phrase-rules/complaint", token=READ)
    assert (status, configured["phrases"], configured["source"]) == (200, ["complaint"], "config")

    assert await hooks.call("DELETE", f"/v1/phrase-rules/{rid}") == (204, None)
    assert hooks.database.phrase_rule(rid) is None and hooks.changes == ["changed", "changed"]
    status, got = await hooks.call("DELETE", f"/v1/phrase-rules/{rid}")
    assert (status, got) == (404, {"error": "not_found", "info": f"no phrase rule {rid}"})
    status, got = await hooks.call("DELETE", "/v1/phrase-rules/complaint")
    info = "phrase rule complaint is configured: change CONNECTOR_PHRASE_RULES"
    assert (status, got) == (409, {"error": "configured", "info": info})
    status, got = await hooks.call("GET", "/v1/phrase-rules/nope", token=READ)
    assert (status, got) == (404, {"error": "not_found", "info": "no phrase rule nope"})


BAD_RULES: list[tuple[dict[str, Any], str]] = [
    ({"name": "x"}, "phrases (body): a rule needs phrases or a pattern"),
    ({"name": "x", "pattern": "(unclosed"},
     "pattern (body): not a valid regular expression: missing ), unterminated subpattern at position 0"),
    ({"name": "x", "pattern": "[z-a]"}, "pattern (body): not a valid regular expression: bad character range z-a"),
    ({"name": "x", "pattern": r"^(\w+\s?)+$"},
     "pattern (body): a repeated group has parts that can match the same characters, which can take exponential time"),
    ({"name": "x", "pattern": "a*"}, "pattern (body): matches empty text"),
    ({"name": "x", "pattern": "a" * 501}, "pattern (body): String should have at most 500 characters"),
    ({"name": "x", "phrases": ["ok", "?!"]}, "phrases.1 (body): has no words (only spaces or punctuation)"),
    ({"name": "x", "phrases": [""]}, "phrases.0 (body): String should have at least 1 character"),
    ({"name": "x", "phrases": ["a"], "roles": ["customer"]},
     "roles.0 (body): Input should be 'external' or 'internal'"),
    ({"name": "x", "phrases": ["a"], "languages": ["english"]}, "languages.0 (body): String should match pattern"),
    ({"name": "", "phrases": ["a"]}, "name (body): String should have at least 1 character"),
    ({"phrases": ["a"]}, "name (body): Field required"),
    ({"name": "x", "phrases": ["a"], "on_partials": True}, "on_partials (body): Extra inputs are not permitted"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "info"), BAD_RULES)
async def test_bad_phrase_rules_are_refused_naming_the_problem(hooks: Hooks, body: dict[str, Any], info: str) -> None:
    status, got = await hooks.call("POST", "/v1/phrase-rules", body=body)
    assert (status, got["error"]) == (422, "invalid_request"), got
    assert got["info"].startswith(info), got["info"]
    assert hooks.database.phrase_rules() == [] and hooks.changes == []


async def test_the_number_of_rules_is_bounded(hooks: Hooks) -> None:
    for n in range(MAX_API_PHRASE_RULES):
        hooks.database.put_phrase_rule(PhraseRule(id=f"r{n}", name="r", created_at=at(n), phrases=("a",)))
    status, got = await hooks.call("POST", "/v1/phrase-rules", body={"name": "one more", "phrases": ["b"]})
    assert (status, got) == (409, {"error": "limit_reached", "info": "at most 200 phrase rules through the API"})


# ---------------------------------------------------------------------------- the document


ROUTES = {
    ("/v1/webhooks", "post"): ("control", "201"),
    ("/v1/webhooks", "get"): ("read", "200"),
    ("/v1/webhooks/dead-letters", "get"): ("read", "200"),
    ("/v1/webhooks/deliveries/{deliveryId}/redrive", "post"): ("control", "200"),
    ("/v1/webhooks/{subscriptionId}", "get"): ("read", "200"),
    ("/v1/webhooks/{subscriptionId}", "delete"): ("control", "204"),
    ("/v1/phrase-rules", "post"): ("control", "201"),
    ("/v1/phrase-rules", "get"): ("read", "200"),
    ("/v1/phrase-rules/{ruleId}", "get"): ("read", "200"),
    ("/v1/phrase-rules/{ruleId}", "delete"): ("control", "204"),
}


async def test_the_routes_are_in_the_document(hooks: Hooks) -> None:
    status, doc = await hooks.call("GET", "/openapi.json", token=None)
    assert status == 200
    for (path, method), (scope, ok) in ROUTES.items():
        operation = doc["paths"][path][method]
        assert operation["x-required-scope"] == scope, path
        assert operation["security"] == [{"bearerAuth": []}], path
        assert ok in operation["responses"], (path, method)
        for status_code in ("401", "403"):
            schema = operation["responses"][status_code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status_code)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["SubscriptionIn"]["properties"]) == {"url", "events", "filters", "auth"}
    assert schemas["SubscriptionIn"]["additionalProperties"] is False
    assert {"signingSecret", "header", "oauth", "caFile", "clientCert", "clientKey"} == set(
        schemas["AuthIn"]["properties"]
    )
    assert set(schemas["PhraseRuleIn"]["properties"]) == {"name", "phrases", "pattern", "roles", "languages",
                                                           "onPartials"}  # fmt: skip
    assert "409" in doc["paths"]["/v1/webhooks/{subscriptionId}"]["delete"]["responses"]


async def test_without_a_webhook_store_the_routes_are_not_mounted(
    nursery: trio.Nursery, database: Database, hub: Hub
) -> None:
    from tests.api.kit import running_api

    async with running_api(nursery, database, hub) as api:
        with trio.fail_after(10):
            response = await api.client.get("/v1/webhooks", headers=bearer(READ))
            document = (await api.client.get("/openapi.json")).json()
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert not [path for path in document["paths"] if "webhooks" in path or "phrase-rules" in path]


def test_the_database_is_a_webhook_store(database: Database) -> None:
    store: WebhookStore = database  # what mypy checks; the routes above call it for real
    assert store.subscriptions() == []


def test_configured_rules_become_config_records() -> None:
    created = datetime(2026, 3, 1, tzinfo=UTC)
    spec = RuleSpec(id="r", name="R", phrases=("a",), roles=frozenset({"internal"}), on_partials=True)
    assert phrase_rule_records([spec], created) == (
        PhraseRule(id="r", name="R", created_at=created, phrases=("a",), roles=frozenset({"internal"}),
                   on_partials=True, source="config"),
    )  # fmt: skip
