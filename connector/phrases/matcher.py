"""Where a rule matched a result: the text as it was said, its characters, its words, its time.

The time of a match comes from the words the engine timed when the matched characters can be
lined up with them (``timing="words"``); otherwise (no words, words that do not spell the text,
or a translation, whose words are the translated text spread over the utterance) the match is
placed at the utterance's start and spans the utterance (``timing="utterance"``). Times are
seconds on whatever timeline ``to_stream`` maps the engine's relative times to: the session passes
the same function it gives the transcript event, so a phrase's offset is the offset in the call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..vocabulary import Hypothesis, Word
from .rules import CompiledRule

__all__ = ["PhraseMatch", "Timing", "find_match", "match_hypothesis", "spoken", "word_spans"]

Timing = Literal["words", "utterance"]


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """One rule matched in one result (a transcript's text: never log it)."""

    rule_id: str
    rule_name: str
    text: str
    """The matched text exactly as in the transcript (``"Cancel my account"``)."""
    start: int
    end: int
    """Character span of :attr:`text` in the utterance's text."""
    word_start: int | None = None
    word_end: int | None = None
    """The words matched: ``words[word_start:word_end]``; ``None`` when no word lines up."""
    offset: float = 0.0
    duration: float = 0.0
    """Seconds: from the first matched word's start to the last one's end, or the utterance's span."""
    timing: Timing = "utterance"
    is_final: bool = True
    """Found in a final (or, for a rule on partials, in a partial)."""


def _identity(seconds: float) -> float:
    return seconds


_EDGES = re.compile(r"^\W+|\W+$")


def word_spans(text: str, words: Sequence[Word]) -> list[tuple[int, int] | None]:
    """Each word's character span in ``text``, found in order (``None``: the word is not in the text)."""
    spans: list[tuple[int, int] | None] = []
    position = 0
    folded = text.lower() if len(text.lower()) == len(text) else None
    for word in words:
        span = None
        for value in dict.fromkeys((word.value.strip(), _EDGES.sub("", word.value.strip()))):
            if not value:
                continue
            if folded is not None and len(value.lower()) == len(value):
                at = folded.find(value.lower(), position)
            else:
                at = text.find(value, position)
            if at >= 0:
                span = (at, at + len(value))
                position = at + len(value)
                break
        spans.append(span)
    return spans


def find_match(
    rule: CompiledRule,
    text: str,
    *,
    words: Sequence[Word] = (),
    start: float = 0.0,
    duration: float = 0.0,
    is_final: bool = True,
    to_stream: Callable[[float], float] | None = None,
) -> PhraseMatch | None:
    """Where ``rule`` first matches ``text`` (whose utterance spans ``start`` + ``duration``), if it does.

    The role, language and partial filters are the caller's (:meth:`CompiledRule.applies`).
    """
    found = rule.search(text)
    if found is None:
        return None
    shift = to_stream or _identity
    matched = [
        index for index, span in enumerate(word_spans(text, words))
        if span is not None and span[0] < found.end() and found.start() < span[1]
    ]  # fmt: skip
    if matched:
        first, last = words[matched[0]], words[matched[-1]]
        offset = shift(first.start)
        end = shift(last.start + last.duration)
        word_start: int | None = matched[0]
        word_end: int | None = matched[-1] + 1
        timing: Timing = "words"
    else:
        offset, end = shift(start), shift(start + duration)
        word_start = word_end = None
        timing = "utterance"
    return PhraseMatch(
        rule_id=rule.id,
        rule_name=rule.name,
        text=found.group(0),
        start=found.start(),
        end=found.end(),
        word_start=word_start,
        word_end=word_end,
        offset=offset,
        duration=max(0.0, end - offset),
        timing=timing,
        is_final=is_final,
    )


def spoken(hypothesis: Hypothesis, language: str | None = None) -> tuple[str, Sequence[Word], str | None]:
    """What was said in ``hypothesis``: its text, the words timing that text, its language.

    A translation's ``text`` is the translation: rules listen to what was said (``source_text``,
    in ``source_language``), and its words (the translation's, spread) time nothing of that.
    ``language`` (the track's) stands in when the result names none.
    """
    if hypothesis.source_text is not None:
        return hypothesis.source_text, (), hypothesis.source_language or language
    return hypothesis.text, hypothesis.words, hypothesis.language or language


def match_hypothesis(
    rules: Iterable[CompiledRule],
    hypothesis: Hypothesis,
    *,
    role: str | None,
    language: str | None = None,
    to_stream: Callable[[float], float] | None = None,
    skip: Callable[[str], bool] | None = None,
) -> list[PhraseMatch]:
    """Every rule that applies to ``hypothesis`` on a channel of ``role`` and matches it, in rule order.

    ``language`` is the track's, used when the result has none; ``skip(rule_id)`` leaves a rule
    out before it is searched (one already reported for this utterance).
    """
    text, words, spoken_language = spoken(hypothesis, language)
    matches = []
    for rule in rules:
        if skip is not None and skip(rule.id):
            continue
        if not rule.applies(role=role, language=spoken_language, is_final=hypothesis.is_final):
            continue
        found = find_match(
            rule, text, words=words, start=hypothesis.start, duration=hypothesis.duration,
            is_final=hypothesis.is_final, to_stream=to_stream,
        )  # fmt: skip
        if found is not None:
            matches.append(found)
    return matches
