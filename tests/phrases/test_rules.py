"""Compiling rules: phrases as whole words whatever the case, punctuation and spacing; patterns
checked (compile errors, empty matches, length, catastrophic backtracking); role, language and
partial filters."""

from __future__ import annotations

import re
import time

import pytest

from connector.envparse import ConfigError
from connector.phrases import MAX_TEXT_CHARS, PhraseRuleError, RuleSpec, compile_rule, find_match, phrase_words


def rule(**fields: object) -> RuleSpec:
    return RuleSpec(**{"id": "r1", "name": "Rule", **fields})  # type: ignore[arg-type]


def matched(spec: RuleSpec, text: str) -> str | None:
    found = find_match(compile_rule(spec), text)
    return None if found is None else found.text


CANCEL = rule(phrases=("cancel my account",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cancel my account.", "Cancel my account"),
        ("I want to CANCEL  my account", "CANCEL  my account"),
        ("cancel, my account!", "cancel, my account"),
        ("please cancel\tmy\naccount now", "cancel\tmy\naccount"),
        ("«Cancel my account»", "Cancel my account"),
        ("cancel my accounts", None),  # whole words: not a prefix of a longer word
        ("uncancel my account", None),
        ("cancel my old account", None),  # the words in a row, nothing between them
        ("cancelmyaccount", None),
    ],
)
def test_phrases_are_whole_words_ignoring_case_punctuation_and_spacing(text: str, expected: str | None) -> None:
    assert matched(CANCEL, text) == expected


def test_punctuation_inside_a_phrase_is_a_word_separator() -> None:
    assert phrase_words("Don't, stop!") == ["Don", "t", "stop"]
    spec = rule(phrases=("don't cancel", "e-mail"))
    assert matched(spec, "I don’t cancel anything") == "don’t cancel"
    assert matched(spec, "send an e mail") == "e mail"
    assert matched(spec, "send an email") is None


def test_accented_and_other_scripts_keep_word_boundaries() -> None:
    spec = rule(phrases=("résilier", "отменить"))
    assert matched(spec, "Je veux RÉSILIER.") == "RÉSILIER"
    assert matched(spec, "résiliera") is None
    assert matched(spec, "Хочу отменить подписку") == "отменить"


def test_scripts_without_spaces_match_anywhere_and_ignore_inserted_spaces() -> None:
    spec = rule(phrases=("取消订单",))
    assert matched(spec, "我要取消订单。") == "取消订单"
    assert matched(spec, "我要取消 订单") == "取消 订单"


def test_the_earliest_match_wins_and_at_one_place_the_longest_phrase() -> None:
    spec = rule(phrases=("cancel", "cancel my account"), pattern=r"refund\w*")
    assert matched(spec, "cancel my account and refund me") == "cancel my account"
    assert matched(spec, "a refunds then cancel") == "refunds"


def test_patterns_are_case_insensitive_unless_they_say_otherwise() -> None:
    assert matched(rule(pattern=r"\bcard\s+number\b"), "my CARD  Number is") == "CARD  Number"
    assert matched(rule(pattern=r"(?-i:SSN)"), "my ssn") is None
    assert matched(rule(pattern=r"(?-i:SSN)"), "my SSN") == "SSN"


def test_only_the_first_max_text_chars_are_searched() -> None:
    text = "x " * (MAX_TEXT_CHARS // 2) + "cancel my account"
    assert matched(CANCEL, text) is None
    assert matched(CANCEL, "cancel my account " + text) == "cancel my account"


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        (rule(), "phrases", "a rule needs phrases or a pattern"),
        (rule(phrases=("  ...  ",)), "phrases[0]", "has no words"),
        (rule(phrases=("ok", "x" * 201)), "phrases[1]", "at most 200 characters"),
        (rule(phrases=tuple(f"p{i}" for i in range(101))), "phrases", "at most 100 phrases"),
        (rule(pattern="(unclosed"), "pattern", "not a valid regular expression: missing ), unterminated subpattern"),
        (rule(pattern="a{2,1}"), "pattern", "not a valid regular expression: min repeat greater than max repeat"),
        (rule(pattern="x?"), "pattern", "matches empty text"),
        (rule(pattern="a" * 501), "pattern", "at most 500 characters"),
        (rule(pattern=r"(\w+\s?)+$"), "pattern", "a repeated group has parts that can match the same characters"),
        (rule(pattern=r"^(a+)+b"), "pattern", "a repeated group has parts that can match the same characters"),
        (rule(pattern=r"(a|aa)+b"), "pattern", "a repeated group has parts that can match the same characters"),
        (rule(pattern=r"(.*,){9}x"), "pattern", "a repeated group has parts that can match the same characters"),
        (rule(pattern=r"(x*)*y"), "pattern", "a repeated group can match empty text"),
        (rule(pattern=r"(?:cat|dog|c.t)+s"), "pattern", "a repeated alternation has alternatives that can match"),
        (rule(phrases=("a",), roles=frozenset({"customer"})), "roles", "unknown role 'customer'"),
        (rule(phrases=("a",), languages=frozenset({"english!"})), "languages", "'english!' is not a language tag"),
        (rule(name=" ", phrases=("a",)), "name", "must be 1 to 100 characters"),
        (rule(id="", phrases=("a",)), "id", "must not be empty"),
    ],
)
def test_bad_rules_name_the_field_and_the_problem(spec: RuleSpec, field: str, reason: str) -> None:
    with pytest.raises(PhraseRuleError) as info:
        compile_rule(spec)
    assert info.value.field == field
    assert info.value.reason.startswith(reason), info.value.reason
    assert str(info.value) == f"{field}: {info.value.reason}"
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


def test_a_refused_pattern_really_is_slow_and_its_safe_forms_are_accepted() -> None:
    slow = r"^(\w+\s?)+$"
    started = time.perf_counter()
    assert re.match(slow, "a" * 22 + "!") is None
    assert time.perf_counter() - started > 0.01  # exponential: already measurable at 22 characters
    for safe in (r"^(\w++\s?)+$", r"^(?>\w+\s?)+$", r"cancel(?:\s+\w+){0,3}\s+account", r"(?:\d[ -]?){13,16}"):
        compiled = compile_rule(rule(pattern=safe))
        started = time.perf_counter()
        compiled.search("a" * MAX_TEXT_CHARS + "!")
        assert time.perf_counter() - started < 0.5, safe


@pytest.mark.parametrize(
    ("languages", "language", "applies"),
    [
        (frozenset(), None, True),
        (frozenset(), "fr-FR", True),
        (frozenset({"en"}), "en-US", True),
        (frozenset({"en"}), "EN_gb", True),
        (frozenset({"EN"}), "en", True),
        (frozenset({"en-us"}), "en-US", True),
        (frozenset({"en-US"}), "en-GB", False),
        (frozenset({"en-US"}), "en", False),
        (frozenset({"en"}), "fr-CA", False),
        (frozenset({"en"}), None, False),  # a language-bound rule does not guess an unknown language
    ],
)
def test_languages_by_exact_tag_or_primary_subtag(
    languages: frozenset[str], language: str | None, applies: bool
) -> None:
    compiled = compile_rule(rule(phrases=("a",), languages=languages))
    assert compiled.applies(role="external", language=language, is_final=True) is applies


def test_roles_and_partials() -> None:
    agent_only = compile_rule(rule(phrases=("a",), roles=frozenset({"Internal"})))
    assert agent_only.roles == frozenset({"internal"})
    assert agent_only.applies(role="internal", language=None, is_final=True)
    assert not agent_only.applies(role="external", language=None, is_final=True)
    assert not agent_only.applies(role=None, language=None, is_final=True)
    both = compile_rule(rule(phrases=("a",)))
    assert both.applies(role=None, language=None, is_final=True)
    assert not both.applies(role="external", language=None, is_final=False)  # finals only by default
    fast = compile_rule(rule(phrases=("a",), on_partials=True))
    assert fast.applies(role="external", language=None, is_final=False)
