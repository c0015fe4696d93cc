"""CONNECTOR_WEBHOOK*: defaults, bounds, and every subscription field checked without echoing a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connector.envparse import ConfigError
from connector.webhooks import WebhookSettings, config_id

from .certs import Pki
from .kit import SECRET

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def read(env: dict[str, str]) -> WebhookSettings:
    return WebhookSettings.from_env(env, now=NOW)


def subs(*items: Any, **env: str) -> dict[str, str]:
    return {"CONNECTOR_WEBHOOKS": json.dumps(list(items)), **env}


def problem(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        read(env)
    return str(caught.value)


def test_defaults() -> None:
    settings = read({})
    assert settings == WebhookSettings()
    assert (settings.max_age, settings.timeout, settings.concurrency) == (86_400.0, 10.0, 16)
    assert (settings.retry_base, settings.retry_max, settings.lease) == (1.0, 300.0, 60.0)
    assert settings.subscriptions == ()


def test_numbers_are_read_and_bounded() -> None:
    settings = read({
        "CONNECTOR_WEBHOOK_MAX_AGE": "3600", "CONNECTOR_WEBHOOK_TIMEOUT": "5", "CONNECTOR_WEBHOOK_CONCURRENCY": "2",
        "CONNECTOR_WEBHOOK_RETRY_BASE": "0.5", "CONNECTOR_WEBHOOK_RETRY_MAX": "60", "CONNECTOR_WEBHOOK_LEASE": "30",
    })  # fmt: skip
    assert (settings.max_age, settings.timeout, settings.concurrency) == (3600.0, 5.0, 2)
    assert (settings.retry_base, settings.retry_max, settings.lease) == (0.5, 60.0, 30.0)
    message = problem({"CONNECTOR_WEBHOOK_CONCURRENCY": "0", "CONNECTOR_WEBHOOK_TIMEOUT": "-1"})
    assert "CONNECTOR_WEBHOOK_CONCURRENCY" in message and "CONNECTOR_WEBHOOK_TIMEOUT" in message  # all at once
    assert "twice CONNECTOR_WEBHOOK_TIMEOUT" in problem({"CONNECTOR_WEBHOOK_LEASE": "20"})
    assert "at least CONNECTOR_WEBHOOK_RETRY_BASE" in problem({"CONNECTOR_WEBHOOK_RETRY_MAX": "0.5"})


def test_a_full_subscription(pki: Pki) -> None:
    item = {
        "id": "crm", "url": "https://crm.example/hooks/audiohook", "events": ["utterance.final", "conversation.ended"],
        "organizationId": "org-1", "conversationId": "c-1", "roles": ["external"], "signingSecret": SECRET,
        "header": {"name": "X-Api-Key", "value": "key-123"},
        "oauth": {
            "tokenUrl": "https://idp.example/token", "clientId": "cid", "clientSecret": "csecret", "scope": "hooks",
        },
        "caFile": str(pki.ca), "clientCert": str(pki.client_cert), "clientKey": str(pki.client_key),
    }  # fmt: skip
    (sub,) = read(subs(item)).subscriptions
    assert (sub.id, sub.url, sub.source, sub.created_at, sub.enabled) == ("crm", item["url"], "config", NOW, True)
    assert sub.events == {"utterance.final", "conversation.ended"}
    assert (sub.organization_id, sub.conversation_id, sub.roles) == ("org-1", "c-1", {"external"})
    auth = sub.auth
    assert (auth.signing_secret, auth.header_name, auth.header_value) == (SECRET, "X-Api-Key", "key-123")
    assert (auth.oauth_token_url, auth.oauth_client_id, auth.oauth_client_secret, auth.oauth_scope) == (
        "https://idp.example/token", "cid", "csecret", "hooks",
    )  # fmt: skip
    assert (auth.ca_file, auth.client_cert_file, auth.client_key_file) == (
        str(pki.ca), str(pki.client_cert), str(pki.client_key),
    )  # fmt: skip
    assert "csecret" not in repr(sub) and SECRET not in repr(sub) and "key-123" not in repr(sub)


def test_ids_are_stable_when_not_given() -> None:
    item: dict[str, Any] = {"url": "https://a.example/h", "events": ["utterance.final", "conversation.started"]}
    first = read(subs(item)).subscriptions[0].id
    reordered = {"url": "https://a.example/h", "events": ["conversation.started", "utterance.final"]}
    assert first == read(subs(reordered)).subscriptions[0].id == config_id("https://a.example/h", item["events"])
    assert first.startswith("config-") and len(first) == len("config-") + 16
    other = read(subs({"url": "https://a.example/h", "events": ["utterance.final"]})).subscriptions[0].id
    assert other != first
    duplicate = problem(subs(item, reordered))
    assert "duplicate subscription id" in duplicate and "CONNECTOR_WEBHOOKS[1]" in duplicate


def test_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.json"
    path.write_text(json.dumps([{"url": "https://a.example/h", "events": ["utterance.final"]}]))
    assert len(read({"CONNECTOR_WEBHOOKS_FILE": str(path)}).subscriptions) == 1
    assert "cannot be read" in problem({"CONNECTOR_WEBHOOKS_FILE": str(tmp_path / "missing.json")})
    both = problem({"CONNECTOR_WEBHOOKS_FILE": str(path), "CONNECTOR_WEBHOOKS": "[]"})
    assert "not both" in both


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://a.example/h", True),
        ("http://127.0.0.1:8080/h", True),
        ("http://localhost/h", True),
        ("http://[::1]:9000/h", True),
        ("http://a.example/h", False),
        ("ftp://a.example/h", False),
        ("a.example/h", False),
        ("https://a.example:notaport/h", False),
    ],
)
def test_https_is_required_unless_loopback(url: str, allowed: bool) -> None:
    env = subs({"url": url, "events": ["utterance.final"]})
    if allowed:
        assert read(env).subscriptions[0].url == url
    else:
        assert "url" in problem(env)


def test_plain_http_can_be_allowed() -> None:
    env = subs({"url": "http://a.example/h", "events": ["utterance.final"]}, CONNECTOR_WEBHOOKS_ALLOW_HTTP="true")
    assert read(env).subscriptions[0].url == "http://a.example/h"
    assert read(env).allow_http


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"events": []}, "events: must be a non-empty list"),
        ({"events": ["utterance.final", "call.exploded"]}, "events: unknown 'call.exploded'"),
        ({"roles": ["customer"]}, "roles: unknown 'customer'"),
        ({"id": "no spaces please"}, "id: must be"),
        ({"urls": "x"}, "unknown keys 'urls'"),
        ({"header": {"name": "Bad Header", "value": "v"}}, "header: name must be"),
        ({"header": {"name": "Content-Type", "value": "text/plain"}}, "set by the connector"),
        ({"header": {"name": "X-Key"}}, "header: must be"),
        ({"oauth": {"tokenUrl": "https://idp.example/t", "clientId": "c"}}, "oauth.clientSecret: required"),
        ({"oauth": {"tokenUrl": "http://idp.example/t", "clientId": "c", "clientSecret": "s"}}, "oauth.tokenUrl"),
        (
            {
                "oauth": {"tokenUrl": "https://i.example/t", "clientId": "c", "clientSecret": "s"},
                "header": {"name": "Authorization", "value": "Basic x"},
            },
            "Authorization is the OAuth bearer",
        ),
        ({"clientKey": "/nowhere/key.pem"}, "clientKey: given without clientCert"),
        ({"caFile": "/nowhere/ca.pem"}, "caFile: '/nowhere/ca.pem' cannot be loaded"),
        ({"signingSecret": "whsec_!!!not base64!!!"}, "signingSecret: not a Standard Webhooks secret"),
    ],
)
def test_problems_are_named(change: dict[str, Any], expected: str) -> None:
    item = {"url": "https://a.example/h", "events": ["utterance.final"], **change}
    message = problem(subs(item))
    assert expected in message
    assert message.count("CONNECTOR_WEBHOOKS[0]") >= 1


def test_a_client_certificate_must_load(pki: Pki) -> None:
    item = {"url": "https://a.example/h", "events": ["utterance.final"], "clientCert": str(pki.ca),
            "clientKey": str(pki.server_key)}  # fmt: skip
    assert "clientCert:" in problem(subs(item))  # the key is not the certificate's
    http = {"url": "http://127.0.0.1/h", "events": ["utterance.final"], "caFile": str(pki.ca)}
    assert "need an https url" in problem(subs(http))


def test_secrets_are_never_echoed() -> None:
    secrets = ["whsec_!!!not base64!!!", "hunter2-header\nvalue", "oauth-client-secret-xyz", "https://user:pw@"]
    items = [
        {"url": "https://user:pw@a.example/h?token=qs-secret", "events": ["nope"], "signingSecret": secrets[0],
         "header": {"name": "X-Key", "value": secrets[1]},
         "oauth": {"tokenUrl": "ftp://idp", "clientId": "c", "clientSecret": secrets[2]}},
        {"url": "http://user:pw@a.example/h?token=qs-secret", "events": ["utterance.final"]},
    ]  # fmt: skip
    message = problem(subs(*items))
    for secret in [*secrets, "qs-secret", "pw"]:
        assert secret not in message
    assert "not valid JSON" in problem({"CONNECTOR_WEBHOOKS": '[{"signingSecret": "whsec_abc" oops}]'})
    assert "whsec_abc" not in problem({"CONNECTOR_WEBHOOKS": '[{"signingSecret": "whsec_abc" oops}]'})
    assert "must be a JSON list" in problem({"CONNECTOR_WEBHOOKS": '{"url": "https://a.example"}'})
