"""One attempt against a real receiver on 127.0.0.1: headers, classification, OAuth2 and (mutual) TLS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import standardwebhooks
import trio

from connector import __version__
from connector.webhooks import WebhookClient, encode_body

from .certs import Pki
from .conftest import MakeReceiver
from .kit import SECRET, delivery, subscription
from .receiver import Reply, Tokens


@pytest.fixture
async def client() -> AsyncIterator[WebhookClient]:
    http = WebhookClient(timeout=0.5, retry_max=30.0)
    try:
        yield http
    finally:
        await http.aclose()


async def test_a_delivery_as_sent(receivers: MakeReceiver, client: WebhookClient) -> None:
    receiver = await receivers(secret=SECRET)
    sub = subscription(receiver.url, signing_secret=SECRET, header_name="X-Api-Key", header_value="key-1")
    record = delivery()
    outcome = await client.send(sub, record)
    assert (outcome.delivered, outcome.status, outcome.reason, outcome.error) == (True, 200, None, None)
    assert 0 < outcome.seconds < 0.5
    (got,) = receiver.received
    assert got.verified is True and got.id == record.id
    assert got.body == encode_body(record) and got.json == record.payload
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == f"audiohook-connector/{__version__}"
    assert got.headers["x-api-key"] == "key-1"
    assert standardwebhooks.Webhook(SECRET).verify(got.body, got.headers) == record.payload


@pytest.mark.parametrize(
    ("reply", "reason", "retry_after"),
    [
        (Reply(500), "server_error", None),
        (Reply(503, {"Retry-After": "7"}), "server_error", 7.0),
        (Reply(429, {"Retry-After": "2"}), "throttled", 2.0),
        (Reply(429, {"Retry-After": "99999"}), "throttled", 30.0),  # capped at retry_max
        (Reply(408), "server_error", None),
        (Reply(425), "server_error", None),
        (Reply(400), "refused", None),
        (Reply(404), "refused", None),
        (Reply(401), "refused", None),  # no OAuth: nothing to refresh
        (Reply(302, {"Location": "https://elsewhere.example/"}), "refused", None),  # never followed
    ],
)
async def test_answers_are_classified(
    receivers: MakeReceiver, client: WebhookClient, reply: Reply, reason: str, retry_after: float | None
) -> None:
    receiver = await receivers()
    receiver.answer(reply)
    outcome = await client.send(subscription(receiver.url), delivery())
    assert (outcome.delivered, outcome.status, outcome.reason) == (False, reply.status, reason)
    assert outcome.error == f"HTTP {reply.status}"
    assert outcome.retry_after == retry_after
    assert len(receiver.received) == 1


async def test_failures_without_an_answer(receivers: MakeReceiver, client: WebhookClient) -> None:
    receiver = await receivers()
    receiver.answer(Reply(delay=3.0), Reply(drop=True))
    started = trio.current_time()
    slow = await client.send(subscription(receiver.url), delivery())
    assert (slow.delivered, slow.reason, slow.error, slow.status) == (False, "timeout", "timeout", None)
    assert 0.45 < trio.current_time() - started < 2.5  # bounded by the timeout, well before the 3 s answer
    dropped = await client.send(subscription(receiver.url), delivery())
    assert (dropped.delivered, dropped.reason) == (False, "network")
    await receiver.down()
    refused = await client.send(subscription(receiver.url), delivery())
    assert (refused.delivered, refused.reason, refused.error) == (False, "network", "ConnectError")
    await receiver.up()
    assert (await client.send(subscription(receiver.url), delivery())).delivered


def _oauth(receiver_token_url: str, tokens: Tokens, scope: str | None = "hooks") -> dict[str, str | None]:
    return {
        "oauth_token_url": receiver_token_url,
        "oauth_client_id": tokens.client_id,
        "oauth_client_secret": tokens.client_secret,
        "oauth_scope": scope,
    }


async def test_oauth_token_is_fetched_once_and_shared(receivers: MakeReceiver, client: WebhookClient) -> None:
    tokens = Tokens()
    receiver = await receivers(tokens=tokens)
    sub = subscription(receiver.url, **_oauth(receiver.token_url, tokens))
    outcomes = []

    async def send() -> None:
        outcomes.append(await client.send(sub, delivery()))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(send)
    assert [o.delivered for o in outcomes] == [True] * 5
    assert tokens.fetches == 1  # concurrent deliveries shared one fetch
    assert (await client.send(sub, delivery())).delivered and tokens.fetches == 1
    assert tokens.forms[0] == {"grant_type": ["client_credentials"], "scope": ["hooks"]}
    assert {r.headers["authorization"] for r in receiver.received} == {"Bearer token-1"}


async def test_oauth_token_is_refreshed_once_on_401(receivers: MakeReceiver, client: WebhookClient) -> None:
    tokens = Tokens()
    receiver = await receivers(tokens=tokens)
    sub = subscription(receiver.url, **_oauth(receiver.token_url, tokens, scope=None))
    assert (await client.send(sub, delivery())).delivered
    tokens.revoke_all()  # the cached token is still fresh for us, but the receiver stopped taking it
    outcome = await client.send(sub, delivery())
    assert outcome.delivered and tokens.fetches == 2
    assert [r.status for r in receiver.received] == [200, 401, 200]
    assert tokens.forms[-1] == {"grant_type": ["client_credentials"]}
    receiver.answer(Reply(401), Reply(401))  # refused with a fresh token too: no loop, one refresh only
    tokens_before = tokens.fetches
    refused = await client.send(sub, delivery())
    assert (refused.delivered, refused.reason, refused.status) == (False, "refused", 401)
    assert tokens.fetches == tokens_before + 1


async def test_oauth_token_expiry_is_honoured(receivers: MakeReceiver, client: WebhookClient) -> None:
    tokens = Tokens(expires_in=1.0)  # fresh for half its life when that is under a minute
    receiver = await receivers(tokens=tokens)
    sub = subscription(receiver.url, **_oauth(receiver.token_url, tokens))
    assert (await client.send(sub, delivery())).delivered
    assert (await client.send(sub, delivery())).delivered and tokens.fetches == 1
    await trio.sleep(0.6)
    assert (await client.send(sub, delivery())).delivered and tokens.fetches == 2
    assert [r.status for r in receiver.received] == [200, 200, 200]  # renewed before it ran out: no 401


async def test_oauth_failures(receivers: MakeReceiver, client: WebhookClient) -> None:
    tokens = Tokens()
    receiver = await receivers(tokens=tokens)
    wrong = subscription(receiver.url, **{**_oauth(receiver.token_url, tokens), "oauth_client_secret": "wrong"})
    outcome = await client.send(wrong, delivery())
    assert (outcome.delivered, outcome.reason, outcome.error) == (False, "auth", "OAuth token: HTTP 401")
    assert receiver.received == []  # nothing is sent without a token
    await receiver.down()
    down = await client.send(subscription(receiver.url, **_oauth(receiver.token_url, tokens)), delivery())
    assert (down.reason, down.error) == ("auth", "OAuth token: ConnectError")


async def test_mutual_tls(receivers: MakeReceiver, client: WebhookClient, pki: Pki) -> None:
    receiver = await receivers(tls=pki.server_context(require_client_cert=True))
    assert receiver.url.startswith("https://127.0.0.1:")
    with_cert = subscription(
        receiver.url, ca_file=str(pki.ca), client_cert_file=str(pki.client_cert), client_key_file=str(pki.client_key)
    )
    outcome = await client.send(with_cert, delivery())
    assert outcome.delivered, outcome
    without = await client.send(subscription(receiver.url, ca_file=str(pki.ca)), delivery())
    assert (without.delivered, without.reason) == (False, "network")
    assert receiver.handshake_failures >= 1
    assert len(receiver.received) == 1  # only the one with the certificate got through


async def test_the_target_must_chain_to_the_configured_ca(
    receivers: MakeReceiver, client: WebhookClient, pki: Pki
) -> None:
    receiver = await receivers(tls=pki.server_context(require_client_cert=False))
    assert (await client.send(subscription(receiver.url, ca_file=str(pki.ca)), delivery())).delivered
    other = await client.send(subscription(receiver.url, ca_file=str(pki.other_ca)), delivery())
    assert (other.delivered, other.reason) == (False, "network")
    system = await client.send(subscription(receiver.url), delivery())  # the default trust store
    assert (system.delivered, system.reason) == (False, "network")
    assert len(receiver.received) == 1


async def test_a_large_answer_is_not_read_whole(receivers: MakeReceiver, client: WebhookClient) -> None:
    receiver = await receivers()
    receiver.answer(Reply(200, body=b"x" * 20_000_000))
    outcome = await client.send(subscription(receiver.url), delivery())
    assert outcome.delivered and outcome.seconds < 0.5
    assert (await client.send(subscription(receiver.url), delivery())).delivered
