"""The OAuth2 token cache on trio's clock (autojump: no sockets, no threads; an in-process transport)."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
import trio
import trio.testing

from connector.store.records import WebhookAuth
from connector.webhooks import OAuthError, TokenCache

AUTH = WebhookAuth(
    oauth_token_url="https://idp.example/token",
    oauth_client_id="id with space",
    oauth_client_secret="se:cr/et+",
    oauth_scope="hooks",
)


class Endpoint:
    """Answers token requests with ``answer(n)`` (n: the request's number, from 1)."""

    def __init__(self, answer: Callable[[int], tuple[int, Any]]) -> None:
        self.answer = answer
        self.requests: list[httpx2.Request] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        status, body = self.answer(len(self.requests))
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx2.Response(status, content=content, headers={"content-type": "application/json"})

    def cache(self) -> TokenCache:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))

        def http(context: ssl.SSLContext | None) -> httpx2.AsyncClient:
            return client

        return TokenCache(http, timeout=5.0)


def bearer(expires_in: Any = 3600) -> Callable[[int], tuple[int, Any]]:
    return lambda n: (200, {"access_token": f"t{n}", "token_type": "Bearer", "expires_in": expires_in})


async def test_cached_until_a_minute_before_it_expires(autojump_clock: trio.testing.MockClock) -> None:
    endpoint = Endpoint(bearer())
    tokens = endpoint.cache()
    assert await tokens.token(AUTH) == "t1"
    await trio.sleep(3539)
    assert await tokens.token(AUTH) == "t1"
    await trio.sleep(2)
    assert await tokens.token(AUTH) == "t2"
    assert tokens.fetches == 2
    request = endpoint.requests[0]
    assert request.method == "POST" and str(request.url) == "https://idp.example/token"
    assert dict(httpx2.QueryParams(request.content.decode())) == {"grant_type": "client_credentials", "scope": "hooks"}
    basic = base64.b64decode(request.headers["authorization"].removeprefix("Basic ")).decode()
    assert basic == "id+with+space:se%3Acr%2Fet%2B"  # form-encoded first (RFC 6749 §2.3.1)


@pytest.mark.parametrize(("expires_in", "fresh"), [(30, 15.0), ("120", 60.0), (None, 3540.0), ("soon", 3540.0)])
async def test_lifetimes(autojump_clock: trio.testing.MockClock, expires_in: Any, fresh: float) -> None:
    answer = bearer(expires_in) if expires_in is not None else (lambda n: (200, {"access_token": f"t{n}"}))
    tokens = Endpoint(answer).cache()
    assert await tokens.token(AUTH) == "t1"
    await trio.sleep(fresh - 0.5)
    assert await tokens.token(AUTH) == "t1"
    await trio.sleep(1)
    assert await tokens.token(AUTH) == "t2"


async def test_invalidate_drops_only_the_refused_token(autojump_clock: trio.testing.MockClock) -> None:
    tokens = Endpoint(bearer()).cache()
    assert await tokens.token(AUTH) == "t1"
    tokens.invalidate(AUTH, "t1")
    assert await tokens.token(AUTH) == "t2"
    tokens.invalidate(AUTH, "t1")  # a late 401 for the old token: the new one stays
    assert await tokens.token(AUTH) == "t2" and tokens.fetches == 2


async def test_one_token_per_client_and_scope(autojump_clock: trio.testing.MockClock) -> None:
    tokens = Endpoint(bearer()).cache()
    other_scope = WebhookAuth(**{**_fields(AUTH), "oauth_scope": "other"})
    other_client = WebhookAuth(**{**_fields(AUTH), "oauth_client_id": "someone"})
    assert [await tokens.token(a) for a in (AUTH, other_scope, other_client, AUTH)] == ["t1", "t2", "t3", "t1"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((401, {"error": "invalid_client"}), "HTTP 401"),
        ((200, b"<html>"), "response is not JSON"),
        ((200, ["t"]), "response is not a JSON object"),
        ((200, {"token_type": "Bearer"}), "response has no access_token"),
        ((200, {"access_token": "t", "token_type": "mac"}), "token_type is not bearer"),
    ],
)
async def test_bad_answers(autojump_clock: trio.testing.MockClock, answer: tuple[int, Any], reason: str) -> None:
    tokens = Endpoint(lambda n: answer).cache()
    with pytest.raises(OAuthError) as caught:
        await tokens.token(AUTH)
    assert caught.value.reason == reason


def _fields(auth: WebhookAuth) -> dict[str, Any]:
    return {name: getattr(auth, name) for name in auth.__slots__}
