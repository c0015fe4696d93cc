"""Properties over generated transcripts: never raises, idempotent, no card number left behind."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.redaction import redact_hypothesis, redact_text
from connector.vocabulary import Hypothesis, Word

_RUN = re.compile(r"[0-9](?:[ -]?[0-9])*")


def luhn(digits: str) -> bool:
    """The Luhn check, written out again here so the property does not trust the code under test."""
    checksum = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        checksum += value - 9 if value > 9 else value
    return checksum % 10 == 0


def card_runs(text: str) -> list[str]:
    """Runs of 13 to 19 digits (single spaces or hyphens between them allowed) that pass the Luhn check."""
    out = []
    for match in _RUN.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and luhn(digits):
            out.append(match.group())
    return out


# fmt: off
FRAGMENTS = [
    "4111", "1111", "4111111111111111", "5555 5555 5555 4444", "378282246310005", "415", "555", "2671",
    "123-45-6789", "12", "2024", "3:30", "$45.99", "1,000", "10%", "21st",
    "one", "two", "four", "five", "oh", "o", "double", "triple", "hundred", "thousand", "forty", "eleven", "zero",
    "uh", "my", "pin", "is", "account", "number", "social", "security", "ssn", "code", "cvv", "card",
    "at", "dot", "@", "john", "example", "com", "co", "uk", "gmail", "look",
    "[card]", "[pin]", "[phone]", "[email]", "(", ")", "+1", "+44", "x", "é", "٣",
]
# fmt: on
SEPARATORS = [" ", " ", " ", "", "-", ", ", ".", ". ", "  ", "\n"]

transcripts = st.lists(
    st.tuples(st.sampled_from(FRAGMENTS) | st.from_regex(r"[0-9]{1,19}", fullmatch=True), st.sampled_from(SEPARATORS)),
    max_size=40,
).map(lambda parts: "".join(fragment + separator for fragment, separator in parts))
texts = transcripts | st.text(max_size=80) | st.text(alphabet="0123456789 -", max_size=60)
languages = st.sampled_from([None, "en-US", "en-GB", "fr-FR", "de", "xx-YY", ""])


@settings(max_examples=200, deadline=None)
@given(texts, languages)
@example("4111 1111 1111 1111 4111 1111 1111 1111", None)
@example("my pin is 1234 and 5678", None)
@example("$4111 1111 1111 1111", None)
@example("pin [pin] 1234", None)
def test_redact_text_is_idempotent_and_leaves_no_card(text: str, language: str | None) -> None:
    once = redact_text(text, language=language)
    assert redact_text(once, language=language) == once
    assert card_runs(once) == []


@settings(max_examples=200, deadline=None)
@given(transcripts, languages, st.booleans())
def test_redact_hypothesis_agrees_with_redact_text_and_leaves_no_card_in_words(
    text: str, language: str | None, spaced_words: bool
) -> None:
    values = text.split() if spaced_words else [text[i : i + 3] for i in range(0, len(text), 3)]
    words = tuple(Word(value, float(i), 0.5, 0.9) for i, value in enumerate(values))
    h = Hypothesis(1, text, True, 0.0, 10.0, 0.9, words, language, source_text=text, source_language=language)
    out = redact_hypothesis(h)
    expected = redact_text(text, language=language)
    assert out.text == expected and out.source_text == expected
    assert (out is h) == (expected == text and out.words == h.words)
    assert card_runs(" ".join(w.value for w in out.words)) == []
    assert len(out.words) <= len(h.words)
    assert all(w.duration >= 0 for w in out.words)
