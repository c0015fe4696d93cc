"""Matches in results: offsets from the words' times (on the caller's timeline), the utterance's
span when words are missing or do not line up, what was said in a translation, the filters."""

from __future__ import annotations

from connector.phrases import (
    PhraseMatch,
    RuleSpec,
    compile_rule,
    find_match,
    match_hypothesis,
    spoken,
    word_spans,
)
from connector.vocabulary import Hypothesis, Word

CANCEL = compile_rule(RuleSpec(id="cancel", name="Cancellation", phrases=("cancel my account",)))
CARD = compile_rule(
    RuleSpec(id="card", name="Card", pattern=r"\bcard\b", on_partials=True, roles=frozenset({"external"}))
)


def words(*timed: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(value=v, start=s, duration=d, confidence=0.9) for v, s, d in timed)


SAID = words(("I", 0.5, 0.125), ("want", 0.75, 0.25), ("to", 1.0, 0.125), ("cancel,", 1.25, 0.375),
             ("my", 1.75, 0.125), ("account.", 2.0, 0.5), ("Thanks", 2.625, 0.25))  # fmt: skip
"""Times in binary fractions, so sums are exact."""
TEXT = "I want to Cancel, my account. Thanks"


def hypothesis(text: str = TEXT, *, final: bool = True, **fields: object) -> Hypothesis:
    values: dict[str, object] = {"utterance": 3, "text": text, "is_final": final, "start": 0.5, "duration": 2.5,
                                 "confidence": 0.9, "words": SAID, "language": "en-US"}  # fmt: skip
    values.update(fields)
    return Hypothesis(**values)  # type: ignore[arg-type]


def test_offset_and_duration_come_from_the_matched_words_on_the_callers_timeline() -> None:
    found = find_match(CANCEL, TEXT, words=SAID, start=0.5, duration=2.5, to_stream=lambda t: t + 100.0)
    assert found == PhraseMatch(
        rule_id="cancel", rule_name="Cancellation", text="Cancel, my account", start=10, end=28,
        word_start=3, word_end=6, offset=101.25, duration=1.25, timing="words", is_final=True,
    )  # fmt: skip
    assert found.word_start is not None and found.word_end is not None
    assert [w.value for w in SAID[found.word_start : found.word_end]] == ["cancel,", "my", "account."]


def test_without_words_the_match_is_placed_at_the_utterances_start() -> None:
    found = find_match(CANCEL, TEXT, start=0.5, duration=2.5, to_stream=lambda t: t + 10.0)
    assert found is not None
    assert (found.offset, found.duration, found.timing) == (10.5, 2.5, "utterance")
    assert (found.word_start, found.word_end) == (None, None)


def test_words_that_do_not_spell_the_text_fall_back_to_the_utterance() -> None:
    other = words(("hello", 0.5, 0.2), ("there", 0.8, 0.2))
    found = find_match(CANCEL, TEXT, words=other, start=0.5, duration=2.5)
    assert found is not None and found.timing == "utterance" and found.offset == 0.5


def test_words_are_lined_up_in_order_ignoring_case_and_edge_punctuation() -> None:
    spans = word_spans("Yes. yes, YES", words(("yes", 0, 0), ("Yes,", 0, 0), ("yes", 0, 0), ("no", 0, 0)))
    assert spans == [(0, 3), (5, 9), (10, 13), None]


def test_a_translation_is_matched_on_what_was_said() -> None:
    translated = hypothesis(
        "Je veux résilier mon compte", language="fr-FR", source_text="I want to cancel my account",
        source_language="en-US", words=words(("Je", 0.5, 0.5), ("veux", 1.0, 0.5)),
    )  # fmt: skip
    assert spoken(translated) == ("I want to cancel my account", (), "en-US")
    english = compile_rule(RuleSpec(id="en", name="en", phrases=("cancel my account",), languages=frozenset({"en"})))
    [found] = match_hypothesis([english], translated, role="external")
    assert (found.text, found.timing, found.offset) == ("cancel my account", "utterance", 0.5)


def test_filters_apply_before_searching() -> None:
    partial = hypothesis("my card is", final=False, words=())
    assert match_hypothesis([CANCEL, CARD], partial, role="external") == [
        PhraseMatch(rule_id="card", rule_name="Card", text="card", start=3, end=7, offset=0.5, duration=2.5,
                    is_final=False),
    ]  # fmt: skip
    assert match_hypothesis([CARD], partial, role="internal") == []
    final = hypothesis("cancel my account, card", words=())
    assert [m.rule_id for m in match_hypothesis([CANCEL, CARD], final, role="external")] == ["cancel", "card"]
    assert [
        m.rule_id for m in match_hypothesis([CANCEL, CARD], final, role="external", skip={"cancel"}.__contains__)
    ] == ["card"]


def test_the_tracks_language_stands_in_for_a_result_without_one() -> None:
    french = compile_rule(RuleSpec(id="fr", name="fr", phrases=("résilier",), languages=frozenset({"fr"})))
    result = hypothesis("je veux résilier", language=None, words=())
    assert match_hypothesis([french], result, role="external") == []
    assert [m.rule_id for m in match_hypothesis([french], result, role="external", language="fr-CA")] == ["fr"]
