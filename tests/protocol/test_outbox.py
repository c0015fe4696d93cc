"""The outbox, sans-IO: lanes, pacing, 429, superseding, dropping, batching, size, ids (no trio)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from connector.protocol import (
    CLOSING_BACKOFF_CAP,
    MAX_BACKOFF,
    Outbox,
    Outgoing,
    ServerMessage,
    Track,
    encode_server_message,
)
from connector.protocol.transcript import utf16_units
from connector.vocabulary import Hypothesis, Word

SID = "06b64c57-4430-46c9-a004-3a58a6f8e948"


class Recorder:
    """Records the outbox's counting calls."""

    def __init__(self) -> None:
        self.backpressure_counts: dict[str, float] = {}
        self.delayed: dict[str, float] = {}
        self.depth = 0

    def backpressure(self, what: str, amount: float) -> None:
        self.backpressure_counts[what] = self.backpressure_counts.get(what, 0) + amount

    def sender_delayed(self, cause: str, seconds: float) -> None:
        self.delayed[cause] = self.delayed.get(cause, 0) + seconds

    def sender_queue_depth(self, depth: int) -> None:
        self.depth += depth


def outbox(**kwargs: Any) -> tuple[Outbox, Recorder]:
    counts = Recorder()
    ids = (f"id-{i}" for i in itertools.count())
    return Outbox(SID, observer=counts, new_id=lambda: next(ids), **kwargs), counts


def said(utterance: int, text: str = "hello", final: bool = True, start: float = 0.0) -> Hypothesis:
    words = [Word(w, start + 0.3 * i, 0.25, 0.9) for i, w in enumerate(text.split())]
    return Hypothesis(utterance, text, final, start, 0.3 * len(words), 0.9, words)


def drain(box: Outbox, now: float, clientseq: int = 1) -> list[dict[str, Any]]:
    """Everything that may go at ``now``, parsed."""
    out = []
    while isinstance(item := box.next(now, clientseq), Outgoing):
        out.append(json.loads(item.text))
    return out


def entity_data(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["data"] for e in message["parameters"]["entities"]]


def test_control_is_stamped_like_every_server_message_and_seq_counts_up() -> None:
    box, _ = outbox()
    box.control(ServerMessage("opened", {"media": [], "startPaused": False}))
    box.control(ServerMessage("pong", {}, clientseq=7))
    first, second = box.next(0, 3), box.next(0, 4)
    assert isinstance(first, Outgoing) and isinstance(second, Outgoing)
    assert first.text == encode_server_message(
        ServerMessage("opened", {"media": [], "startPaused": False}), session_id=SID, seq=1, clientseq=3
    )
    assert json.loads(second.text)["clientseq"] == 7 and json.loads(second.text)["seq"] == 2
    assert box.seq == 2 and box.next(0, 4) is None


def test_events_wait_for_the_bucket_and_control_overtakes_them() -> None:
    box, counts = outbox(rate=5, burst=2)
    track = Track(0, "en-US", "scripted")
    for i in range(4):
        box.transcript(track, said(i), heard_at=0.0)
    assert [m["type"] for m in drain(box, 0.0)] == ["event", "event"]
    assert box.next(0.0, 1) == pytest.approx(0.2)  # one token every 0.2 s
    box.control(ServerMessage("pong", {}))
    assert [m["type"] for m in drain(box, 0.05)] == ["pong"]  # not paced, but it spent a token
    assert box.next(0.05, 1) == pytest.approx(0.4)
    assert [m["type"] for m in drain(box, 0.4)] == ["event"]
    assert counts.delayed == {"rate": pytest.approx(0.4)}
    assert counts.depth == 1


def test_a_429_holds_events_exactly_retry_after_but_not_control() -> None:
    box, counts = outbox(rate=100, burst=100)
    box.backoff(2.5, now=10.0)
    box.transcript(Track(0, "en-US"), said(0))
    box.control(ServerMessage("pong", {}))
    assert [m["type"] for m in drain(box, 10.0)] == ["pong"]
    assert box.next(10.0, 1) == 12.5
    assert drain(box, 12.49) == []
    assert [m["type"] for m in drain(box, 12.5)] == ["event"]
    assert counts.delayed == {"backoff": pytest.approx(2.5)}


def test_closed_goes_after_the_last_event_and_caps_a_long_429() -> None:
    box, _ = outbox(rate=100, burst=100)
    track = Track(0, "en-US")
    box.backoff(60.0, now=0.0)
    box.transcript(track, said(0, "last words"))
    box.closed()
    assert box.next(1.0, 1) == 1.0 + CLOSING_BACKOFF_CAP  # not 60 s: the client gives up after 10 s
    assert [m["type"] for m in drain(box, 4.0)] == ["event", "closed"]
    assert box.finished
    box.control(ServerMessage("pong", {}))
    assert box.transcript(track, said(1)) == 0
    assert box.next(5.0, 1) is None  # nothing after ``closed``


def test_one_id_per_utterance_and_a_newer_partial_or_the_final_replaces_the_queued_one() -> None:
    box, counts = outbox(rate=1, burst=1)
    track = Track(1, "en-US")
    box.transcript(track, said(0, "other"))
    box.transcript(track, said(1, "hel", final=False))
    box.transcript(track, said(1, "hello", final=False))
    box.transcript(track, said(1, "hello there"))
    box.transcript(track, said(2, "next"))
    sent = [entity_data(m)[0] for t in range(3) for m in drain(box, float(t))]
    assert [(d["id"], d["isFinal"], d["alternatives"][0]["interpretations"][0]["transcript"]) for d in sent] == [
        ("id-0", True, "other"),
        ("id-1", True, "hello there"),
        ("id-2", True, "next"),
    ]
    assert all(d["channelId"] == 1 for d in sent)
    assert counts.backpressure_counts == {"partial_superseded": 2}


def test_a_restart_is_a_new_track_with_new_ids_and_partials_follow_the_track() -> None:
    box, _ = outbox(rate=100, burst=100)
    first, second = Track(0, "en-US"), Track(0, "es-ES", partials=False)
    box.transcript(first, said(0, "one", final=False))
    sent = [entity_data(m)[0] for m in drain(box, 0.0)]
    assert box.transcript(second, said(0, "uno", final=False)) == 0  # this track sends no partials
    box.transcript(second, said(0, "uno"))
    box.transcript(first, said(0, "one"))
    sent += [entity_data(m)[0] for m in drain(box, 0.0)]
    assert [(d["id"], d["isFinal"]) for d in sent] == [("id-0", False), ("id-1", True), ("id-0", True)]
    assert sent[1]["alternatives"][0]["languages"] == ["es-ES"]


def test_empty_text_sends_nothing_and_still_ends_the_utterance() -> None:
    box, _ = outbox()
    track = Track(0, "en-US")
    assert box.transcript(track, said(0, "hmm", final=False)) == 1
    assert box.transcript(track, Hypothesis(0, "  ", True, 0.0, 1.0, 0.0)) == 0
    box.transcript(track, said(0, "new utterance"))  # the engine reuses its number: a new id
    ids = [entity_data(m)[0]["id"] for m in drain(box, 0.0)]
    assert ids == ["id-0", "id-1"]


def test_offsets_are_mapped_onto_the_stream() -> None:
    box, _ = outbox()
    box.transcript(Track(0, "en-US", to_stream=lambda t: t + 100.0), said(0, "late words", start=1.0))
    data = entity_data(drain(box, 0.0)[0])[0]
    assert data["offset"] == "PT101S"
    tokens = data["alternatives"][0]["interpretations"][0]["tokens"]
    assert [t["offset"] for t in tokens] == ["PT101S", "PT101.3S"]


def test_only_partials_are_dropped_when_the_queue_is_full() -> None:
    box, counts = outbox(rate=1, burst=1, max_queued=3)
    track = Track(0, "en-US")
    box.transcript(track, said(0, "a", final=False))
    box.transcript(track, said(1, "b"))
    box.transcript(track, said(2, "c"))
    box.transcript(track, said(3, "d"))  # full: the oldest partial goes
    box.transcript(track, said(4, "e", final=False))  # full of finals: this partial goes
    box.transcript(track, said(5, "f"))  # a final is always kept
    assert counts.backpressure_counts == {"partial_dropped": 2}
    assert box.queue_depth == 4 and counts.depth == 4
    texts = [
        entity_data(m)[0]["alternatives"][0]["interpretations"][0]["transcript"]
        for t in range(5) for m in drain(box, float(t))
    ]  # fmt: skip
    assert texts == ["b", "c", "d", "f"]
    assert counts.depth == 0


def test_a_backlog_of_finals_is_batched_under_the_size_limit() -> None:
    box, counts = outbox(rate=1, burst=1, batch_threshold=3, max_units=5000)
    track = Track(0, "en-US")
    for i in range(30):
        box.transcript(track, said(i, "word " * 10))
    messages = [m for t in range(30) for m in drain(box, float(t))]
    ids = [d["id"] for m in messages for d in entity_data(m)]
    assert ids == [f"id-{i}" for i in range(30)]  # all delivered, in order
    assert len(messages) < 30 and counts.backpressure_counts["events_batched"] == sum(
        len(entity_data(m)) for m in messages if len(entity_data(m)) > 1
    )
    for message in messages:
        entities = json.dumps(message["parameters"]["entities"], separators=(",", ":"), ensure_ascii=False)
        assert utf16_units(entities) <= 5000 + 2  # the limit, plus the list's brackets


def test_without_batching_one_transcript_per_event_until_closed_waits_behind_them() -> None:
    box, _ = outbox(rate=1, burst=2)
    track = Track(0, "en-US")
    for i in range(6):
        box.transcript(track, said(i))
    assert [len(entity_data(m)) for m in drain(box, 0.0)] == [1, 1]
    box.closed()  # four wait behind ``closed``: more than the bucket sends at once
    sent = drain(box, 1.0)
    assert [m["type"] for m in sent] == ["event", "closed"] and len(entity_data(sent[0])) == 4


def test_an_oversized_final_becomes_consecutive_finals_and_an_oversized_partial_waits_for_it() -> None:
    box, _ = outbox(rate=1000, burst=1000, max_units=20_000)
    words = [Word(f"wörd{i}", i * 0.25, 0.2, 0.9) for i in range(2000)]
    text = " ".join(w.value for w in words)
    track = Track(0, "de-DE")
    assert box.transcript(track, Hypothesis(0, text, False, 0.0, 500.0, 0.9, words)) == 0
    queued = box.transcript(track, Hypothesis(0, text, True, 0.0, 500.0, 0.9, words))
    messages = drain(box, 0.0)
    assert len(messages) == queued > 1
    data = [d for m in messages for d in entity_data(m)]
    assert all(utf16_units(json.dumps(m["parameters"]["entities"], ensure_ascii=False)) <= 20_002 for m in messages)
    assert data[0]["id"] == "id-0" and len({d["id"] for d in data}) == len(data)
    tokens = [t["value"] for d in data for t in d["alternatives"][0]["interpretations"][0]["tokens"]]
    assert tokens == [w.value for w in words]  # nothing lost, order kept


def test_discard_forgets_the_queue_and_keeps_the_depth_gauge_honest() -> None:
    box, counts = outbox(rate=1, burst=1)
    for i in range(3):
        box.transcript(Track(0, "en-US"), said(i))
    assert counts.depth == 3
    box.discard()
    assert counts.depth == 0 and box.idle


def test_news_says_when_the_writer_must_look_again() -> None:
    box, _ = outbox()
    assert not box.news
    box.transcript(Track(0, "en-US"), said(0, " "))
    assert not box.news  # nothing queued
    box.transcript(Track(0, "en-US"), said(1))
    assert box.news
    box.news = False
    box.backoff(1.0, now=0.0)
    assert box.news


def test_repeated_429s_extend_the_wait_exactly_and_a_huge_one_is_capped() -> None:
    box, _ = outbox(rate=100, burst=100)
    box.transcript(Track(0, "en-US"), said(0))
    box.backoff(2.0, now=0.0)
    box.backoff(1.0, now=0.5)  # ends earlier than the first: changes nothing
    assert box.next(0.5, 1) == 2.0
    box.backoff(2.0, now=1.0)
    assert box.next(1.0, 1) == 3.0
    box.backoff(3600.0, now=1.5)
    assert box.next(1.5, 1) == 1.5 + MAX_BACKOFF  # an hour would hold every final for the rest of the call
    assert drain(box, 1.5 + MAX_BACKOFF - 0.001) == []
    assert len(drain(box, 1.5 + MAX_BACKOFF)) == 1


def test_a_backlog_that_waited_out_a_429_is_packed_and_overflow_is_reported() -> None:
    box, counts = outbox(rate=5, burst=5, max_queued=40)
    track = Track(0, "en-US")
    box.backoff(30.0, now=0.0)
    for i in range(40):
        box.transcript(track, said(i, f"final number {i}"))
    assert not box.overflowing  # 40 waiting: at the bound, not past it
    box.transcript(track, said(40, "one more"))
    assert box.overflowing
    sent = drain(box, 30.0)
    ids = [d["id"] for m in sent for d in entity_data(m)]
    assert ids == [f"id-{i}" for i in range(41)]  # every final, in order
    assert len(sent) < 5  # packed: not 41 events at 5 per second
    assert counts.backpressure_counts["events_batched"] > 0
    assert not box.overflowing and box.idle
    box.transcript(track, said(41, "later"))
    box.transcript(track, said(42, "later still"))
    assert [len(entity_data(m)) for m in drain(box, 60.0)] == [1, 1]  # caught up: one per event again
