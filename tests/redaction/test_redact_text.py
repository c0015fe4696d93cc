"""Transcripts full of personal data, and ordinary numbers that must come through untouched."""

from __future__ import annotations

import time

import pytest

from connector.redaction import Finding, find_pii, phone_region, redact_text

CARD_DIGITS_SPOKEN = "four one one one one one one one one one one one one one one one"


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        # cards: written, with hyphens, in one piece, dotted, spoken digit by digit and in pairs
        ("my card is 4111 1111 1111 1111", "my card is [card]"),
        ("it's 4111-1111-1111-1111.", "it's [card]."),
        ("4111111111111111", "[card]"),
        ("card 5500 0000 0000 0004 expires 12 25", "card [card] expires 12 25"),
        ("the number is 4111 1111 1111 1111 12 25", "the number is [card] 12 25"),  # expiry right after
        (f"sure, it's {CARD_DIGITS_SPOKEN}, thanks", "sure, it's [card], thanks"),
        ("forty one eleven eleven eleven eleven eleven eleven eleven", "[card]"),
        ("three seven eight two eight two two four six three one double oh oh five", "[card]"),  # Amex, 15
        ("378282246310005", "[card]"),
        # PINs and security codes after their cue
        ("my pin is one two three four", "my pin is [pin]"),
        ("My PIN number is 9876.", "My PIN number is [pin]."),
        ("the passcode, uh, it's 55 66 77", "the passcode, uh, it's [pin]"),
        ("the cvv is 123", "the cvv is [pin]"),
        ("security code four five six", "security code [pin]"),
        # account numbers
        ("my account number is 12345678", "my account number is [account]"),
        ("account one two three four five six seven eight nine zero", "account [account]"),
        ("sort code 12-34-56", "sort code [account]"),
        # social security numbers: the written shape anywhere, any digits after their cue
        ("SSN 123-45-6789", "SSN [ssn]"),
        ("it is 123-45-6789 I think", "it is [ssn] I think"),
        (
            "my social security number is one two three four five six seven eight nine",
            "my social security number is [ssn]",
        ),
        ("last four of my social are 6789", "last four of my social are [ssn]"),
        # e-mail addresses, written and spoken
        ("write to john.smith@example.com.", "write to [email]."),
        ("it's John.Smith+calls@mail.example.co.uk, thanks", "it's [email], thanks"),
        ("it's john dot smith at example dot com", "it's [email]"),
        ("jane underscore doe at gmail dot com please", "[email] please"),
        ("j dot doe at mail dot example dot co dot uk", "[email]"),
        ("jean point dupont arobase exemple point fr", "[email]"),
        # phone numbers: written in every usual shape, and spoken
        ("call +1 415 555 2671 tomorrow", "call [phone] tomorrow"),
        ("my number is (415) 555-2671, any time", "my number is [phone], any time"),
        ("415.555.2671", "[phone]"),
        ("four one five five five five two six seven one", "[phone]"),
        ("one eight hundred five five five one two three four", "[phone]"),
        ("it's four one five, five five five, two six seven one", "it's [phone]"),
        ("call +44 20 7946 0958", "call [phone]"),
        # a long spoken string that is no card is still redacted, whole: dictated digits are someone's data
        ("four one one one one one one one one one one one one one one two", "[phone]"),
        ("four one one one one one one one one one one one one one one one one two two five", "[phone]"),
    ],
)
def test_pii_is_replaced_by_typed_markers(text: str, redacted: str) -> None:
    assert redact_text(text) == redacted


@pytest.mark.parametrize(
    ("text", "language", "redacted"),
    [
        ("ring me on 020 7946 0958", "en-GB", "ring me on [phone]"),
        ("my mobile is 07911 123456", "en-GB", "my mobile is [phone]"),
        ("appelez le 01 23 45 67 89", "fr-FR", "appelez le [phone]"),
        ("mon portable, 06 12 34 56 78", "fr", "mon portable, [phone]"),
        ("ruf an: 030 901820", "de-DE", "ruf an: [phone]"),
    ],
)
def test_national_phone_numbers_in_the_call_language_region(text: str, language: str, redacted: str) -> None:
    assert redact_text(text, language=language) == redacted


def test_a_national_number_needs_its_region() -> None:
    # In the US, 020 7946 0958 is no valid number; the call's language is what makes it British.
    assert redact_text("020 7946 0958", language="en-US") == "020 7946 0958"
    assert redact_text("020 7946 0958", language="en-GB") == "[phone]"


@pytest.mark.parametrize(
    ("language", "region"),
    [
        ("en-US", "US"),
        ("en-GB", "GB"),
        ("fr-FR", "FR"),
        ("EN_gb", "GB"),
        ("fr", "FR"),
        ("fr-CA", "CA"),
        ("es-419", "ES"),
        ("xx", "US"),
        (None, "US"),
        ("", "US"),
        ("zh-Hant-TW", "TW"),
    ],
)
def test_phone_region_from_the_language_tag(language: str | None, region: str) -> None:
    assert phone_region(language) == region


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # a card number that fails the Luhn check
        "4111-1111-1111-1112",
        "4111111111111112",
        "two items",
        "I'd like two items and one more",
        "order 12",
        "order number 12345",
        "at 3:30 pm",
        "it costs $45.99",
        "it costs $1,249.00 or 1,000 euros",
        "room 101",
        "the year 2024",
        "between 2023 and 2024",
        "I have 3 kids",
        "call me at five",
        "call me at five thirty",
        "twenty five dollars",
        "nineteen ninety nine",
        "I'll be there at 10:15, flight 1234",
        "on the 21st at 9am",
        "version 1.2.3",
        "10% off",
        "my pin is 12",  # too short to be a PIN
        "the pin did not work so I went to branch 1234",  # too far from its cue
        "my account balance is 2500",  # an amount, a date, a count after a cue is no identifier
        "my account was opened in 2019",
        "my account was charged 2500 dollars",
        "I typed my pin 3 times",
        "look at example dot com",
        "I work at acme dot com",
        "we are at this point in time",
        "meet me at the office dot",
        "oh, one more thing",
        "room 4B, floor 12",
        "the 555 number",
        "zip code 94107",
        "",
    ],
)
def test_ordinary_numbers_and_words_survive(text: str) -> None:
    assert redact_text(text) == text
    assert find_pii(text) == []


def test_findings_are_sorted_spans_with_kinds() -> None:
    text = "pin 1234, card 4111111111111111, mail a@b.com"
    assert find_pii(text) == [
        Finding("pin", 4, 8),
        Finding("card", 15, 31),
        Finding("email", 38, 45),
    ]
    assert all(f.words is None for f in find_pii(text))


def test_markers_and_punctuation_around_them() -> None:
    assert redact_text("(4111 1111 1111 1111)") == "([card])"
    assert redact_text('"john@example.com"') == '"[email]"'
    assert redact_text("cards: 4111111111111111, 5555555555554444.") == "cards: [card], [card]."


def test_redacting_a_redacted_text_changes_nothing() -> None:
    once = redact_text("my pin is 1234 and my card 4111 1111 1111 1111, mail me at a dot b at example dot com")
    assert "[pin]" in once and "[card]" in once and "[email]" in once
    assert redact_text(once) == once


def test_a_marker_is_no_cue() -> None:
    # "[pin]" spells "pin", but markers are opaque: the 5678 after it is too far from the real cue.
    assert redact_text("[pin] and 5678") == "[pin] and 5678"


@pytest.mark.parametrize(
    "text",
    [
        " " * 20_000 + "1",  # "at" searched with its surrounding spaces was quadratic here (3 s for 10,000)
        "a" + " " * 20_000 + "at example dot com",
        "\t\n " * 7_000 + "a@b.com",
        "a." * 10_000 + "@",
        "a dot " * 4_000 + "at b",
    ],
)
def test_long_hostile_texts_take_linear_time(text: str) -> None:
    began = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - began < 2.0
