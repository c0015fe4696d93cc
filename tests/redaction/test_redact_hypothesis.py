"""Redacting an engine's result: text, word timings and a translation's original."""

from __future__ import annotations

import dataclasses

import pytest

from connector.redaction import find_pii_in_hypothesis, redact_hypothesis
from connector.vocabulary import Hypothesis, Word


def words_of(text: str, *, step: float = 0.5, length: float = 0.4) -> tuple[Word, ...]:
    """One word per space-separated token, ``step`` seconds apart, confidence falling word by word."""
    return tuple(Word(value, 1.0 + i * step, length, 0.99 - i * 0.01) for i, value in enumerate(text.split()))


def hypothesis(text: str, words: tuple[Word, ...] | None = None, **fields: object) -> Hypothesis:
    h = Hypothesis(
        utterance=3,
        text=text,
        is_final=True,
        start=1.0,
        duration=9.0,
        confidence=0.9,
        words=words_of(text) if words is None else words,
        language="en-US",
    )
    return dataclasses.replace(h, **fields) if fields else h


def test_the_marker_word_spans_the_card_words_exactly() -> None:
    h = hypothesis("my card is 4111 1111 1111 1111 thanks")
    out = redact_hypothesis(h)
    assert out.text == "my card is [card] thanks"
    assert [w.value for w in out.words] == ["my", "card", "is", "[card]", "thanks"]
    card_words = h.words[3:7]
    marker = out.words[3]
    assert marker.start == card_words[0].start
    assert marker.start + marker.duration == pytest.approx(card_words[-1].start + card_words[-1].duration)
    assert marker.confidence == min(w.confidence for w in card_words)
    assert out.words[:3] == h.words[:3] and out.words[4] == h.words[7]


def test_spoken_digits_become_one_marker_word() -> None:
    h = hypothesis("my pin is one two three four okay")
    out = redact_hypothesis(h)
    assert out.text == "my pin is [pin] okay"
    assert [w.value for w in out.words] == ["my", "pin", "is", "[pin]", "okay"]
    assert out.words[3].start == h.words[3].start
    assert out.words[3].start + out.words[3].duration == pytest.approx(h.words[6].start + h.words[6].duration)


def test_punctuation_carried_by_words_stays_on_the_marker_word() -> None:
    h = hypothesis("Call (415) 555-2671, please.")
    out = redact_hypothesis(h)
    assert out.text == "Call [phone], please."
    assert [w.value for w in out.words] == ["Call", "[phone],", "please."]


def test_words_that_differ_only_in_case_and_spacing_still_follow_the_text() -> None:
    words = tuple(Word(v, float(i), 0.5, 0.8) for i, v in enumerate(["my", "email", "is", "jo@example.com"]))
    h = hypothesis("My email is  JO@example.com", words)
    out = redact_hypothesis(h)
    assert out.text == "My email is  [email]"
    assert [w.value for w in out.words] == ["my", "email", "is", "[email]"]
    assert find_pii_in_hypothesis(h)[0].words == range(3, 4)


def test_words_that_disagree_with_the_text_are_redacted_on_their_own() -> None:
    # The engine formatted the text but left the words spoken: each is redacted by its own detection.
    spoken = "my card is four one one one one one one one one one one one one one one one"
    h = hypothesis("My card is 4111 1111 1111 1111.", words_of(spoken))
    out = redact_hypothesis(h)
    assert out.text == "My card is [card]."
    assert [w.value for w in out.words] == ["my", "card", "is", "[card]"]
    assert out.words[3].start == h.words[3].start
    assert out.words[3].start + out.words[3].duration == pytest.approx(h.words[-1].start + h.words[-1].duration)
    assert find_pii_in_hypothesis(h)[0].words is None  # no guessing which words a text span means


def test_disagreeing_words_with_nothing_to_find_stay_as_they_are() -> None:
    h = hypothesis("My card is 4111 1111 1111 1111.", words_of("my card is lost"))
    out = redact_hypothesis(h)
    assert out.text == "My card is [card]." and out.words == h.words


def test_without_words_only_the_text_is_redacted() -> None:
    h = hypothesis("ssn 123-45-6789", ())
    out = redact_hypothesis(h)
    assert out.text == "ssn [ssn]" and out.words == ()


def test_nothing_to_redact_returns_the_same_object() -> None:
    h = hypothesis("I have two items and order 12 at 3:30 pm")
    assert redact_hypothesis(h) is h
    empty = hypothesis("", ())
    assert redact_hypothesis(empty) is empty


def test_everything_else_is_kept() -> None:
    h = hypothesis("pin 1234", is_final=False, timing="spread", language="en-GB")
    out = redact_hypothesis(h)
    assert out is not h and out.text == "pin [pin]"
    assert (out.utterance, out.is_final, out.start, out.duration, out.confidence, out.timing, out.language) == (
        3,
        False,
        1.0,
        9.0,
        0.9,
        "spread",
        "en-GB",
    )


def test_a_translation_s_original_is_redacted_in_its_own_language() -> None:
    h = hypothesis(
        "my mobile is [phone]",  # a translation the translator already received redacted, say
        source_text="mon portable est le 06 12 34 56 78",
        source_language="fr-FR",
        language="en-US",
    )
    out = redact_hypothesis(h)
    assert out.source_text == "mon portable est le [phone]"
    assert out.text == h.text and out.source_language == "fr-FR"


def test_the_text_s_language_picks_the_phone_region() -> None:
    h = hypothesis("ring 020 7946 0958", language="en-GB")
    assert redact_hypothesis(h).text == "ring [phone]"
    american = dataclasses.replace(h, language="en-US")
    assert redact_hypothesis(american) is american


def test_two_findings_in_one_word_become_one_marker_word() -> None:
    words = (Word("pin:1234/ssn:123-45-6789", 0.0, 1.0, 0.7),)
    h = hypothesis("pin:1234/ssn:123-45-6789", words)
    out = redact_hypothesis(h)
    assert out.text == "pin:[pin]/ssn:[ssn]"
    assert [w.value for w in out.words] == ["pin:[pin]/ssn:[ssn]"]
