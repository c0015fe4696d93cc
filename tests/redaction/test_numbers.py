"""Digits as transcripts spell them: written, spoken, in groups, with separators."""

from __future__ import annotations

import pytest

from connector.redaction.numbers import digit_sequences, luhn_valid, may_have_digits, tokenize


def runs(text: str) -> list[tuple[str, str]]:
    """Each run's digits and the characters it came from."""
    return [(run.digits, text[run.start : run.end]) for run in digit_sequences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("four five six seven", [("4567", "four five six seven")]),
        ("4 5 6 7", [("4567", "4 5 6 7")]),
        ("4567", [("4567", "4567")]),
        ("4111-1111-1111-1111", [("4111111111111111", "4111-1111-1111-1111")]),
        ("4111 1111 1111 1111.", [("4111111111111111", "4111 1111 1111 1111")]),
        ("4111.1111.1111.1111", [("4111111111111111", "4111.1111.1111.1111")]),
        ("four oh one", [("401", "four oh one")]),
        ("double five triple oh", [("55000", "double five triple oh")]),
        ("forty two eleven", [("4211", "forty two eleven")]),
        ("forty-two ninety", [("4290", "forty-two ninety")]),
        ("four, one, one, one", [("4111", "four, one, one, one")]),
        ("one two uh three four", [("1234", "one two uh three four")]),
        ("four hundred and twenty three", [("423", "four hundred and twenty three")]),
        ("one eight hundred five five five", [("1800555", "one eight hundred five five five")]),
        ("4 one 1 one", [("4111", "4 one 1 one")]),
    ],
)
def test_written_and_spoken_digits_read_as_one_run(text: str, expected: list[tuple[str, str]]) -> None:
    assert runs(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oh, one more thing", [("1", "one")]),  # "oh" is zero only right after a digit
        ("it was four. Oh, and five", [("4", "four"), ("5", "five")]),
        ("four thousand", [("4", "four")]),  # "thousand" ends a run: a quantity, not dictation
        ("twenty five dollars", [("25", "twenty five")]),
        ("at 3:30 pm it costs $45.99, 10% off, 1,000 people on the 21st", []),
        ("room 101. 2024", [("101", "101"), ("2024", "2024")]),  # a full stop and a space end a run
        ("a double espresso", []),
    ],
)
def test_what_ends_a_run_or_is_no_digit(text: str, expected: list[tuple[str, str]]) -> None:
    assert runs(text) == expected


def test_runs_know_whether_they_were_spoken() -> None:
    spoken, written = digit_sequences("four one five and 415")
    assert spoken.spoken and not written.spoken


def test_markers_are_opaque_tokens() -> None:
    assert [t.kind for t in tokenize("[card] [pin]! card")] == ["marker", "marker", "punct", "word"]
    assert runs("1234 [card] 5678") == [("1234", "1234"), ("5678", "5678")]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True), ("0", True), ("18", True)],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("text", "maybe"),
    [
        ("Thanks for calling, how can I help?", False),
        ("I have two items but only one works", False),
        ("two three", True),
        ("twenty-five", True),
        ("one, uh, two", True),
        ("room 12", False),
        ("room 101", True),
        ("12 thirty", True),
    ],
)
def test_fast_path(text: str, maybe: bool) -> None:
    assert may_have_digits(text) is maybe
