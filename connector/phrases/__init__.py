"""Phrase rules: listen for phrases or patterns in transcripts, and say where each was heard.

Sans-IO and on the domain floor, beside :mod:`connector.protocol`: it reads results
(:class:`~connector.vocabulary.Hypothesis`) and returns matches, and knows nothing of sockets,
trio, the store or webhooks, so the session runtime and the control API (which checks a posted
rule with the same :func:`compile_rule`) both use it, and it is tested without either.

* :mod:`.rules` — a rule checked and compiled (:func:`compile_rule`, :class:`CompiledRule`).
* :mod:`.regex_guard` — patterns that could backtrack exponentially are refused.
* :mod:`.matcher` — where a rule matched: text, characters, words, time (:class:`PhraseMatch`).
* :mod:`.tracker` — once per utterance and rule, in bounded memory (:class:`PhraseDetector`).
* :mod:`.config` — ``CONNECTOR_PHRASE_RULES`` / ``CONNECTOR_PHRASE_RULES_FILE``.

A session builds one detector over the compiled rules and feeds it every result::

    detector = PhraseDetector(compile_rules(phrase_rules_from_env(env)))
    for match in detector.detect((track, hypothesis.utterance), hypothesis, role="external", to_stream=to_stream):
        ...  # emit phrase.detected
"""

from __future__ import annotations

from .config import (
    ID_PATTERN,
    PHRASE_RULES,
    PHRASE_RULES_FILE,
    compile_rules,
    parse_rule,
    phrase_rules_from_env,
    rule_id_from_name,
)
from .matcher import PhraseMatch, Timing, find_match, match_hypothesis, spoken, word_spans
from .rules import (
    MAX_TEXT_CHARS,
    ROLES,
    CompiledRule,
    PhraseRuleError,
    RuleLike,
    RuleSpec,
    compile_rule,
    language_applies,
    phrase_words,
)
from .tracker import DEFAULT_MAX_OPEN, PhraseDetector, PhraseTracker

__all__ = [
    "DEFAULT_MAX_OPEN",
    "ID_PATTERN",
    "MAX_TEXT_CHARS",
    "PHRASE_RULES",
    "PHRASE_RULES_FILE",
    "ROLES",
    "CompiledRule",
    "PhraseDetector",
    "PhraseMatch",
    "PhraseRuleError",
    "PhraseTracker",
    "RuleLike",
    "RuleSpec",
    "Timing",
    "compile_rule",
    "compile_rules",
    "find_match",
    "language_applies",
    "match_hypothesis",
    "parse_rule",
    "phrase_rules_from_env",
    "phrase_words",
    "rule_id_from_name",
    "spoken",
    "word_spans",
]
