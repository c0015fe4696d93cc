"""The pure parts: signature headers, Retry-After, back-off with jitter, targets, the body's bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import standardwebhooks

from connector.webhooks import backoff, encode_body, retry_after_seconds, target_of, webhook_headers

from .kit import SECRET, delivery

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def test_signature_headers_verify_with_the_reference_library() -> None:
    body = encode_body(delivery())
    sent_at = datetime.now(UTC)
    headers = webhook_headers("msg-1", body, now=sent_at, secret=SECRET)
    assert headers["webhook-id"] == "msg-1"
    assert headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert standardwebhooks.Webhook(SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(body + b" ", headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(body, {**headers, "webhook-id": "msg-2"})


def test_without_a_secret_the_id_and_timestamp_are_still_sent() -> None:
    headers = webhook_headers("msg-1", b"{}", now=NOW, secret=None)
    assert headers == {"webhook-id": "msg-1", "webhook-timestamp": str(int(NOW.timestamp()))}


def test_the_body_is_compact_utf8_json() -> None:
    record = delivery()
    body = encode_body(record)
    assert json.loads(body) == record.payload
    assert b", " not in body and b": " not in body
    assert "héllo".encode() in body


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("100000", 300.0),  # capped
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),  # in the past: now
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # not a delay-seconds
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=NOW, cap=300.0) == expected


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    highest = lambda low, high: high  # noqa: E731
    assert [backoff(n, base=1.0, cap=300.0, uniform=highest) for n in (1, 2, 3, 4, 9, 10, 1000)] == [
        1.0, 2.0, 4.0, 8.0, 256.0, 300.0, 300.0,
    ]  # fmt: skip
    assert backoff(5, base=1.0, cap=300.0, uniform=lambda low, high: low) == 0.0
    assert backoff(1, base=1.0, cap=300.0, retry_after=20.0, uniform=highest) == 20.0  # at least Retry-After
    assert backoff(9, base=1.0, cap=300.0, retry_after=20.0, uniform=highest) == 256.0
    samples = [backoff(4, base=1.0, cap=300.0) for _ in range(200)]
    assert all(0.0 <= s <= 8.0 for s in samples) and len(set(samples)) > 100


def test_targets() -> None:
    assert target_of("https://A.example/x?y") == "https://a.example:443"
    assert target_of("https://a.example:443/other") == "https://a.example:443"
    assert target_of("http://a.example/x") == "http://a.example:80"
    assert target_of("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert target_of("https://a.example:8443/x") != target_of("https://a.example/x")
