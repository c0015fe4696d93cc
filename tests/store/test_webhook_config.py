"""Webhook subscriptions and phrase rules: every field round-trips (secrets included), a put
replaces, listings are oldest first, deletes say whether there was something to delete."""

from __future__ import annotations

from dataclasses import replace

from connector.store import Database
from connector.store.records import PhraseRule, Subscription, WebhookAuth

from .kit import PARIS, at, delivery, phrase_rule, subscription


def test_subscription_round_trip_of_every_field(db: Database) -> None:
    full = subscription("sub-1")
    bare = Subscription(id="sub-2", url="https://other.example/", events=frozenset(), created_at=at(5))
    assert db.put_subscription(full) == full
    assert db.put_subscription(bare) == bare
    stored = db.subscription("sub-1")
    assert stored == full
    assert stored is not None and stored.auth == full.auth  # the secrets come back as given
    assert stored.auth.signing_secret == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert stored.auth.header_value == "key-\u00e9-secret"
    assert stored.auth.oauth_client_secret == "oauth-secret"
    stored_bare = db.subscription("sub-2")
    assert stored_bare == bare
    assert stored_bare is not None and stored_bare.auth == WebhookAuth()
    assert db.subscription("nope") is None


def test_subscriptions_are_listed_oldest_first(db: Database) -> None:
    db.put_subscription(subscription("b", created_at=at(30)))
    db.put_subscription(subscription("a", created_at=at(20).astimezone(PARIS)))
    db.put_subscription(subscription("c", created_at=at(30)))
    listed = db.subscriptions()
    assert [s.id for s in listed] == ["a", "b", "c"]
    assert listed[0].created_at == at(20) and listed[0].created_at.utcoffset() is not None


def test_putting_a_subscription_again_replaces_it_but_its_creation_time(db: Database) -> None:
    db.put_subscription(subscription("sub-1"))
    changed = subscription(
        "sub-1",
        url="https://new.example/",
        events=frozenset({"conversation.ended"}),
        created_at=at(999),
        auth=WebhookAuth(header_name="Authorization", header_value="Bearer t"),
        organization_id=None,
        conversation_id=None,
        roles=frozenset(),
        source="api",
        enabled=True,
    )
    stored = db.put_subscription(changed)
    assert stored == replace(changed, created_at=at(1))
    assert db.subscriptions() == [stored]


def test_deleting_a_subscription_drops_its_pending_deliveries(db: Database) -> None:
    db.put_subscription(subscription("sub-1"))
    db.put_subscription(subscription("sub-2"))
    db.write([], [], [delivery("d1", "sub-1"), delivery("d2", "sub-1", "c2"), delivery("e1", "sub-2")])
    db.claim_deliveries(now=at(20), lease=30, limit=1, replica="r")  # d1
    db.dead_letter("d1", now=at(21), error="HTTP 410")

    assert db.delete_subscription("sub-1") is True
    assert db.delete_subscription("sub-1") is False
    assert db.subscription("sub-1") is None
    assert [s.id for s in db.subscriptions()] == ["sub-2"]
    assert db.delivery("d2") is None  # pending: it would go nowhere
    assert db.delivery("d1") is not None  # dead: kept for inspection until purge
    assert db.delivery("e1") is not None
    assert db.pending_count() == 1


def test_phrase_rule_round_trip_of_every_field(db: Database) -> None:
    full = phrase_rule("rule-1")
    bare = PhraseRule(id="rule-2", name="greeting", created_at=at(3), phrases=("hello",))
    assert db.put_phrase_rule(full) == full
    assert db.put_phrase_rule(bare) == bare
    assert db.phrase_rule("rule-1") == full
    assert db.phrase_rule("rule-2") == bare
    assert db.phrase_rule("nope") is None
    assert db.phrase_rules() == [full, bare]  # oldest first


def test_phrase_rules_replace_keep_order_of_phrases_and_delete(db: Database) -> None:
    db.put_phrase_rule(phrase_rule("r", phrases=("zebra", "apple", "mango")))
    changed = phrase_rule("r", phrases=("b", "a"), pattern=None, created_at=at(50), on_partials=False, source="api")
    stored = db.put_phrase_rule(changed)
    assert stored == replace(changed, created_at=at(2))
    assert stored.phrases == ("b", "a")
    assert db.delete_phrase_rule("r") is True
    assert db.delete_phrase_rule("r") is False
    assert db.phrase_rules() == []
