"""Once per utterance and rule, across partials and the final; forgotten at the final; bounded."""

from __future__ import annotations

import pytest

from connector.phrases import PhraseDetector, PhraseMatch, PhraseTracker, RuleSpec, compile_rule
from connector.vocabulary import Hypothesis

FAST = compile_rule(RuleSpec(id="fast", name="Fast", phrases=("cancel",), on_partials=True))
SLOW = compile_rule(RuleSpec(id="slow", name="Slow", phrases=("cancel",)))
REFUND = compile_rule(RuleSpec(id="refund", name="Refund", phrases=("refund",), on_partials=True))


def result(text: str, *, final: bool, utterance: int = 1) -> Hypothesis:
    return Hypothesis(utterance=utterance, text=text, is_final=final, start=1.0, duration=1.0, confidence=0.9)


def ids(matches: list[PhraseMatch]) -> list[str]:
    return [m.rule_id for m in matches]


def test_a_rule_on_partials_reports_once_and_the_final_only_brings_the_rest() -> None:
    detector = PhraseDetector([FAST, SLOW, REFUND])
    key = ("track-0", 1)
    assert ids(detector.detect(key, result("I want to", final=False), role="external")) == []
    assert ids(detector.detect(key, result("I want to cancel", final=False), role="external")) == ["fast"]
    assert ids(detector.detect(key, result("I want to cancel now", final=False), role="external")) == []
    final = detector.detect(key, result("I want to cancel now, refund", final=True), role="external")
    assert ids(final) == ["slow", "refund"]
    assert all(m.is_final for m in final)
    assert len(detector.tracker) == 0  # the final forgot the utterance


def test_the_same_phrase_twice_in_one_utterance_is_one_report_and_the_next_utterance_is_new() -> None:
    detector = PhraseDetector([SLOW])
    assert ids(detector.detect(("t", 1), result("cancel, cancel!", final=True), role=None)) == ["slow"]
    assert ids(detector.detect(("t", 2), result("cancel", final=True, utterance=2), role=None)) == ["slow"]


def test_utterances_and_tracks_are_told_apart_by_their_keys() -> None:
    detector = PhraseDetector([FAST])
    assert ids(detector.detect(("t0", 1), result("cancel", final=False), role=None)) == ["fast"]
    assert ids(detector.detect(("t1", 1), result("cancel", final=False), role=None)) == ["fast"]
    assert ids(detector.detect(("t0", 1), result("cancel", final=True), role=None)) == []
    assert len(detector.tracker) == 1


def test_memory_is_bounded_when_finals_never_come() -> None:
    tracker = PhraseTracker(max_open=3)
    match = PhraseMatch(rule_id="r", rule_name="R", text="x", start=0, end=1)
    for n in range(100):
        assert tracker.fresh(n, [match], final=False) == [match]
    assert len(tracker) == 3
    assert tracker.reported(99, "r") and not tracker.reported(96, "r")  # the oldest were forgotten
    assert tracker.fresh(99, [match], final=False) == []
    tracker.forget(99)
    assert len(tracker) == 2
    tracker.clear()
    assert len(tracker) == 0
    with pytest.raises(ValueError):
        PhraseTracker(max_open=0)


def test_results_without_a_match_take_no_memory() -> None:
    detector = PhraseDetector([FAST])
    for n in range(50):
        detector.detect(n, result("nothing here", final=False), role=None)
    assert len(detector.tracker) == 0
    empty = PhraseDetector()
    assert empty.detect(1, result("cancel", final=True), role=None) == []


def test_rules_can_be_replaced_while_utterances_are_open() -> None:
    detector = PhraseDetector([FAST])
    assert ids(detector.detect(1, result("cancel", final=False), role=None)) == ["fast"]
    detector.replace([FAST, REFUND])
    assert [r.id for r in detector.rules] == ["fast", "refund"]
    assert ids(detector.detect(1, result("cancel refund", final=True), role=None)) == ["refund"]
