"""A phrase rule, checked and compiled once: what it listens for, on which channel, in which language.

A rule is given by configuration (:mod:`connector.phrases.config`) or by the control API (stored
as :class:`connector.store.records.PhraseRule`); both reach :func:`compile_rule` through the
:class:`RuleLike` protocol, so this domain package needs nothing of the store above it, and a
rule is refused with the same message wherever it comes from.

Phrases are matched as whole words, ignoring case, punctuation and spacing between the words:
``cancel my account`` matches ``Cancel my account.`` and ``I want to CANCEL,  my account`` but not
``cancel my accounts`` (the phrase's first and last words must be whole words of the transcript).
A phrase is split into words at spaces and punctuation, so ``don't`` also matches ``don’t`` and
``e-mail`` matches ``e mail``. Scripts written without spaces between words (Chinese, Japanese,
Thai, Lao, Khmer, Myanmar) have no word boundaries to respect: there a phrase matches anywhere,
and spaces an engine put between its characters are ignored.
A pattern is a Python regular expression, case-insensitive unless it says otherwise (``(?-i:...)``),
refused if it is long, does not compile, matches empty text, or can backtrack exponentially
(:mod:`connector.phrases.regex_guard`). Only the first :data:`MAX_TEXT_CHARS` characters of an
utterance are searched, which bounds what any accepted pattern can cost.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Protocol

from ..envparse import ConfigError
from ..language_tags import normalize_tag, primary_subtag
from .regex_guard import check_pattern

__all__ = [
    "LANGUAGE_PATTERN",
    "MAX_NAME_CHARS",
    "MAX_PATTERN_CHARS",
    "MAX_PHRASES",
    "MAX_PHRASE_CHARS",
    "MAX_TEXT_CHARS",
    "ROLES",
    "CompiledRule",
    "PhraseRuleError",
    "RuleLike",
    "RuleSpec",
    "compile_rule",
    "language_applies",
    "phrase_words",
]

ROLES = ("external", "internal")
"""AudioHook channel roles: the customer's side and the agent's."""
MAX_TEXT_CHARS = 2000
"""Characters of an utterance searched (about three minutes of speech); the rest is not."""
MAX_PATTERN_CHARS = 500
MAX_PHRASES = 100
MAX_PHRASE_CHARS = 200
MAX_NAME_CHARS = 100
MAX_LANGUAGES = 50
LANGUAGE_PATTERN = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
FLAGS = re.IGNORECASE
"""Every pattern is compiled with these (a pattern turns them off locally with ``(?-i:...)``)."""


class PhraseRuleError(ConfigError):
    """A rule cannot be used: ``field`` (``pattern``, ``phrases[2]``, ...) and why (``reason``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RuleLike(Protocol):
    """What :func:`compile_rule` reads of a rule (:class:`RuleSpec`, the store's ``PhraseRule``)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def phrases(self) -> Sequence[str]: ...
    @property
    def pattern(self) -> str | None: ...
    @property
    def roles(self) -> Set[str]: ...
    @property
    def languages(self) -> Set[str]: ...
    @property
    def on_partials(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as configured: the plain fields of the store's ``PhraseRule`` without its bookkeeping."""

    id: str
    name: str
    phrases: tuple[str, ...] = ()
    pattern: str | None = None
    roles: frozenset[str] = frozenset()
    """Channel roles it applies to (:data:`ROLES`); empty: both."""
    languages: frozenset[str] = frozenset()
    """Language tags (``en-US``) or primary subtags (``en``: every ``en-*``) it applies to; empty: all."""
    on_partials: bool = False
    """Search partials too (reported as soon as heard), not only finals."""


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A checked rule, its regular expressions compiled once."""

    id: str
    name: str
    roles: frozenset[str]
    languages: frozenset[str]
    """Normalized (``en-US``); a bare primary subtag (``en``) stands for every tag of that language."""
    on_partials: bool
    phrases: re.Pattern[str] | None = field(default=None, repr=False)
    pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def applies(self, *, role: str | None, language: str | None, is_final: bool) -> bool:
        """Whether a result of this channel role, language and finality is searched at all."""
        if not is_final and not self.on_partials:
            return False
        if self.roles and (role is None or role.lower() not in self.roles):
            return False
        return language_applies(self.languages, language)

    def search(self, text: str) -> re.Match[str] | None:
        """The earliest match in ``text`` (its first :data:`MAX_TEXT_CHARS` characters), if any."""
        best: re.Match[str] | None = None
        for regex in (self.phrases, self.pattern):
            if regex is None:
                continue
            for found in regex.finditer(text, 0, MAX_TEXT_CHARS):
                if found.end() > found.start():  # a pattern's empty match (``(?=x)``) is no phrase
                    if best is None or found.start() < best.start():
                        best = found
                    break
        return best


def language_applies(languages: Set[str], language: str | None) -> bool:
    """``languages`` empty, or ``language`` one of them: the same tag, or of a listed bare primary subtag."""
    if not languages:
        return True
    if not language:
        return False
    tag = normalize_tag(language)
    return tag in languages or primary_subtag(tag) in languages


# ------------------------------------------------------------------ phrases

_UNSPACED = (
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF), (0x31F0, 0x31FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x3FFFF),
)  # fmt: skip
"""Thai, Lao, Myanmar, Khmer, kana, CJK ideographs: written without spaces between words."""


def _unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED)


def _separates(char: str) -> bool:
    """Spaces, punctuation, symbols and controls separate words; letters, marks and digits make them."""
    return unicodedata.category(char)[0] in "ZPSC"


def phrase_words(phrase: str) -> list[str]:
    """The words of a phrase, split at spaces and punctuation (``"Don't, stop!"`` → ``["Don", "t", "stop"]``)."""
    words: list[str] = []
    current: list[str] = []
    for char in phrase:
        if _separates(char):
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def _word_source(word: str) -> str:
    """A word, literally; in scripts without spaces, spaces an engine put between characters are allowed."""
    out = [re.escape(word[0])]
    for before, char in itertools.pairwise(word):
        out.append(r"\s*" if _unspaced(before) or _unspaced(char) else "")
        out.append(re.escape(char))
    return "".join(out)


def _phrase_source(words: Sequence[str]) -> str:
    """One phrase as a regular expression: whole words, any run of non-word characters between them."""
    parts = ["" if _unspaced(words[0][0]) else r"(?<!\w)"]
    for index, word in enumerate(words):
        if index:
            tight = _unspaced(words[index - 1][-1]) or _unspaced(word[0])
            parts.append(r"\W*" if tight else r"\W+")
        parts.append(_word_source(word))
    parts.append("" if _unspaced(words[-1][-1]) else r"(?!\w)")
    return "".join(parts)


def _compile_phrases(phrases: Sequence[str]) -> re.Pattern[str] | None:
    if len(phrases) > MAX_PHRASES:
        raise PhraseRuleError("phrases", f"at most {MAX_PHRASES} phrases in one rule")
    sources: list[str] = []
    for index, phrase in enumerate(phrases):
        where = f"phrases[{index}]"
        if not isinstance(phrase, str):
            raise PhraseRuleError(where, "must be text")
        if len(phrase) > MAX_PHRASE_CHARS:
            raise PhraseRuleError(where, f"at most {MAX_PHRASE_CHARS} characters")
        words = phrase_words(phrase)
        if not words:
            raise PhraseRuleError(where, "has no words (only spaces or punctuation)")
        sources.append(_phrase_source(words))
    if not sources:
        return None
    sources.sort(key=len, reverse=True)  # at one position, the longest phrase is the one reported
    return re.compile("|".join(sources), FLAGS)


# ------------------------------------------------------------------ patterns


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PhraseRuleError("pattern", f"at most {MAX_PATTERN_CHARS} characters")
    try:
        compiled = re.compile(pattern, FLAGS)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise PhraseRuleError("pattern", f"not a valid regular expression: {exc.msg}{where}") from None
    except (OverflowError, RecursionError):
        raise PhraseRuleError("pattern", "not a valid regular expression: too large or too deeply nested") from None
    if compiled.search("") is not None:
        raise PhraseRuleError("pattern", "matches empty text (it would match every utterance)")
    try:
        check_pattern(pattern, FLAGS)
    except ValueError as exc:
        raise PhraseRuleError("pattern", str(exc)) from None
    return compiled


# ------------------------------------------------------------------ the rule


def _roles(roles: Set[str]) -> frozenset[str]:
    wanted = frozenset(str(r).strip().lower() for r in roles)
    if unknown := sorted(wanted - set(ROLES)):
        raise PhraseRuleError("roles", f"unknown role {unknown[0]!r} (roles are {' and '.join(ROLES)})")
    return wanted


def _languages(languages: Set[str]) -> frozenset[str]:
    if len(languages) > MAX_LANGUAGES:
        raise PhraseRuleError("languages", f"at most {MAX_LANGUAGES} languages")
    tags = set()
    for tag in languages:
        if not isinstance(tag, str) or not LANGUAGE_PATTERN.fullmatch(tag.strip()):
            raise PhraseRuleError("languages", f"{tag!r} is not a language tag (en, en-US)")
        tags.add(normalize_tag(tag))
    return frozenset(tags)


def compile_rule(rule: RuleLike) -> CompiledRule:
    """Check ``rule`` and compile it; :class:`PhraseRuleError` names the field and the problem."""
    if not rule.id or not rule.id.strip():
        raise PhraseRuleError("id", "must not be empty")
    name = rule.name.strip() if isinstance(rule.name, str) else ""
    if not name or len(name) > MAX_NAME_CHARS:
        raise PhraseRuleError("name", f"must be 1 to {MAX_NAME_CHARS} characters")
    phrases = _compile_phrases(list(rule.phrases))
    pattern = _compile_pattern(rule.pattern) if rule.pattern is not None else None
    if phrases is None and pattern is None:
        raise PhraseRuleError("phrases", "a rule needs phrases or a pattern")
    return CompiledRule(
        id=rule.id,
        name=name,
        roles=_roles(rule.roles),
        languages=_languages(rule.languages),
        on_partials=bool(rule.on_partials),
        phrases=phrases,
        pattern=pattern,
    )
