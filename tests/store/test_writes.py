"""Writes and the conversation read-back: every field round-trips; retries and stale updates are harmless."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from connector.store import Database, TranslationRecord

from .kit import PARIS, T0, at, session, utterance


def test_round_trip_of_every_field(db: Database) -> None:
    first = session("s1", ended_at=at(70), outcome="completed", disconnect_reason="callEnded", updated_at=at(70))
    second = session(
        "s2",
        started_at=at(100),
        participant={},
        channels=("external",),
        media_format=None,
        language=None,
        engine=None,
        transcribing=False,
        updated_at=None,
    )
    said = utterance("u1")
    bare = utterance("u2", session_id="s2", words=(), translation=None, language=None, engine="", offset=0.0)
    db.write([first, second], [said, bare])

    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.conversation_id == "c1"
    assert conversation.sessions == (first, second)
    assert conversation.utterances == (said, bare)
    assert conversation.control is None
    for value in (conversation.sessions[0].started_at, conversation.sessions[0].ended_at, said.sent_at):
        assert value is not None and value.tzinfo is not None and value.utcoffset() is not None
    assert conversation.sessions[0].started_at.tzinfo == UTC
    assert conversation.utterances[0].sent_at.tzinfo == UTC


def test_other_time_zones_come_back_as_the_same_instant_in_utc(db: Database) -> None:
    local = T0.astimezone(PARIS)
    db.write([session(started_at=local, updated_at=local)], [utterance(sent_at=local)])
    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.sessions[0].started_at == T0
    assert conversation.sessions[0].started_at.tzinfo == UTC
    assert conversation.utterances[0].sent_at == T0


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        db.write([session(started_at=datetime(2026, 1, 1))], [])
    assert db.conversation("c1") is None


def test_unknown_conversation_is_none(db: Database) -> None:
    assert db.conversation("nobody") is None


def test_rewriting_a_batch_changes_nothing(db: Database) -> None:
    batch = ([session()], [utterance("u1"), utterance("u2", offset=20.0)])
    db.write(*batch)
    db.write(*batch)
    db.write([], batch[1])
    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.sessions == (session(),)
    assert [u.utterance_id for u in conversation.utterances] == ["u1", "u2"]


def test_an_utterance_is_inserted_once_even_when_its_retry_differs(db: Database) -> None:
    db.write([session()], [utterance("u1", text="first")])
    db.write([], [utterance("u1", text="second"), utterance("u1", text="third")])
    conversation = db.conversation("c1")
    assert conversation is not None
    assert [u.text for u in conversation.utterances] == ["first"]


def test_duplicates_within_one_batch(db: Database) -> None:
    older, newer = session(updated_at=at(1), transcripts=1), session(updated_at=at(2), transcripts=2)
    db.write([newer, older], [utterance("u1", text="first"), utterance("u1", text="second")])
    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.sessions == (newer,)
    assert [u.text for u in conversation.utterances] == ["first"]


def test_newer_updates_win_and_older_ones_are_ignored(db: Database) -> None:
    db.write([session(updated_at=at(10), transcripts=1)], [])
    db.write([session(updated_at=at(20), transcripts=2)], [])
    db.write([session(updated_at=at(15), transcripts=99)], [])  # late, stale
    db.write([session(updated_at=None, transcripts=98)], [])  # no time: older than any
    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.sessions[0].transcripts == 2
    assert conversation.sessions[0].updated_at == at(20)


def test_an_ended_session_is_never_made_live_again(db: Database) -> None:
    ended = session(updated_at=at(60), ended_at=at(60), outcome="completed", transcribing=False)
    db.write([ended], [])
    db.write([session(updated_at=at(90), ended_at=None, outcome=None)], [])  # newer, but live
    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.sessions == (ended,)
    # A newer *ended* record still applies (for instance a corrected report).
    corrected = replace(ended, updated_at=at(61), disconnect_reason="error")
    db.write([corrected], [])
    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.sessions == (corrected,)


def test_utterances_in_spoken_order(db: Database) -> None:
    early, late = session("a", started_at=at(0)), session("b", started_at=at(100))
    db.write(
        [late, early],
        [
            utterance("b1", session_id="b", offset=1.0, channel=0),
            utterance("a3", session_id="a", offset=30.0, channel=0),
            utterance("a2-ch1", session_id="a", offset=5.0, channel=1),
            utterance("a2-ch0", session_id="a", offset=5.0, channel=0),
            utterance("a1", session_id="a", offset=0.5, channel=1),
        ],
    )
    conversation = db.conversation("c1")
    assert conversation is not None
    assert [s.session_id for s in conversation.sessions] == ["a", "b"]
    assert [u.utterance_id for u in conversation.utterances] == ["a1", "a2-ch0", "a2-ch1", "a3", "b1"]


def test_conversations_do_not_mix(db: Database) -> None:
    db.write([session("s1", "c1"), session("s2", "c2")], [utterance("u", "s1", "c1"), utterance("u", "s2", "c2")])
    one, two = db.conversation("c1"), db.conversation("c2")
    assert one is not None and two is not None
    assert [s.session_id for s in one.sessions] == ["s1"]
    assert [(u.session_id, u.conversation_id) for u in two.utterances] == [("s2", "c2")]


def test_an_utterance_needs_its_session(db: Database) -> None:
    with pytest.raises(IntegrityError):
        db.write([], [utterance(session_id="missing")])
    assert db.conversation("c1") is None


def test_a_failed_batch_writes_nothing(db: Database) -> None:
    with pytest.raises(IntegrityError):
        db.write([session("s1")], [utterance("u1"), utterance("u2", session_id="missing")])
    assert db.conversation("c1") is None


def test_a_translation_without_words(db: Database) -> None:
    record = utterance(words=(), translation=TranslationRecord(text="hi", language="en"))
    db.write([session()], [record])
    conversation = db.conversation("c1")
    assert conversation is not None
    assert conversation.utterances == (record,)
