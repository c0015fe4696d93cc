"""Replacing what :func:`~.detectors.find_pii` finds: in a text, and in a :class:`Hypothesis` with its words.

A hypothesis carries its text twice: as ``text`` and as ``words`` with timings. Detection runs on the
text (where punctuation and spacing are as the engine meant them) and the findings are mapped onto the
words when the words spell the text, token for token, ignoring spaces and letter case (``"4111"``,
``"1111."`` against ``"4111 1111."``). The words a finding covers become one word: its value is the
marker (with any punctuation those words carried outside the finding, ``[card].``), its start the
first word's start, its duration up to the last word's end and its confidence the lowest of theirs;
so a transcript's timeline keeps its shape and nothing redacted can be rebuilt from word values.

When the words do not spell the text (an engine that formats the text but not the words, or the
other way round), guessing which words a text span means would be a way to leak: the words are then
redacted on their own, by detection over the words joined with spaces. Without words, only the text is
redacted. A translation's original (``source_text``) is redacted too, in its own language.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..vocabulary import Hypothesis, Word
from .detectors import Finding, apply_findings, find_pii

__all__ = ["find_pii_in_hypothesis", "redact_hypothesis", "redact_text"]


def redact_text(text: str, *, language: str | None = None) -> str:
    """``text`` with each finding replaced by its marker (``[card]``, ``[pin]``, …); punctuation around kept.

    Idempotent: the markers are invisible to the detectors, so redacting twice is redacting once.
    """
    findings = find_pii(text, language=language)
    return apply_findings(text, findings) if findings else text


def _align(text: str, words: Sequence[Word]) -> list[tuple[int, int]] | None:
    """Each word's character span in ``text`` if the words spell it in order (spaces and case aside)."""
    spans: list[tuple[int, int]] = []
    at = 0
    size = len(text)
    for word in words:
        value = word.value.strip()
        while at < size and text[at].isspace():
            at += 1
        end = at + len(value)
        if not text.startswith(value, at) and text[at:end].lower() != value.lower():
            return None
        spans.append((at, end))
        at = end
    if text[at:].strip():
        return None
    return spans


def _joined(words: Sequence[Word]) -> tuple[str, list[tuple[int, int]]]:
    """The words' values joined with spaces, and each word's span in that text."""
    spans: list[tuple[int, int]] = []
    at = 0
    for word in words:
        value = word.value.strip()
        spans.append((at, at + len(value)))
        at += len(value) + 1
    return " ".join(word.value.strip() for word in words), spans


def _with_words(findings: list[Finding], spans: list[tuple[int, int]]) -> list[Finding]:
    """The findings with the (contiguous) range of word indices each one overlaps."""
    out: list[Finding] = []
    for finding in findings:
        touched = [i for i, (start, end) in enumerate(spans) if start < finding.end and end > finding.start]
        words = range(touched[0], touched[-1] + 1) if touched else None
        out.append(dataclasses.replace(finding, words=words))
    return out


def _redact_words(
    words: Sequence[Word], spans: list[tuple[int, int]], text: str, findings: list[Finding]
) -> tuple[Word, ...]:
    """``words`` with the words each finding covers merged into one marker word (see the module docstring)."""
    located = _with_words(findings, spans)
    merged: list[tuple[range, list[Finding]]] = []  # word ranges, findings sharing a word merged together
    for finding in located:
        if finding.words is None:
            continue
        if merged and merged[-1][0].stop > finding.words.start:
            previous, inside = merged[-1]
            merged[-1] = (range(previous.start, max(previous.stop, finding.words.stop)), [*inside, finding])
        else:
            merged.append((finding.words, [finding]))
    out: list[Word] = []
    at = 0
    for covered, inside in merged:
        out.extend(words[at : covered.start])
        first, last = words[covered.start], words[covered.stop - 1]
        start, end = spans[covered.start][0], spans[covered.stop - 1][1]
        size = end - start
        relative = [
            dataclasses.replace(f, start=max(0, f.start - start), end=min(size, f.end - start), words=None)
            for f in inside
        ]
        value = apply_findings(text[start:end], relative)
        out.append(
            Word(
                value=value,
                start=first.start,
                duration=max(0.0, last.start + last.duration - first.start),
                confidence=min(words[i].confidence for i in covered),
            )
        )
        at = covered.stop
    out.extend(words[at:])
    return tuple(out)


def find_pii_in_hypothesis(hypothesis: Hypothesis) -> list[Finding]:
    """The findings in ``hypothesis.text``, each with the word indices it covers when the words spell the text.

    For counting or logging what was redacted (kinds and positions, never the values).
    """
    findings = find_pii(hypothesis.text, language=hypothesis.language)
    if findings and hypothesis.words:
        spans = _align(hypothesis.text, hypothesis.words)
        if spans is not None:
            return _with_words(findings, spans)
    return findings


def redact_hypothesis(hypothesis: Hypothesis) -> Hypothesis:
    """``hypothesis`` with its text, words and ``source_text`` redacted (see the module docstring).

    Returns ``hypothesis`` itself, the same object, when there is nothing to redact, so a caller can
    tell with ``is`` and skip copying; otherwise a copy with everything else (utterance, timing,
    languages, is_final) unchanged.
    """
    language = hypothesis.language
    text = hypothesis.text
    findings = find_pii(text, language=language)
    new_text = apply_findings(text, findings) if findings else text

    words = hypothesis.words
    new_words: Sequence[Word] = words
    if words:
        spans = _align(text, words)
        if spans is not None:
            if findings:
                new_words = _redact_words(words, spans, text, findings)
        else:
            joined, spans = _joined(words)
            word_findings = find_pii(joined, language=language)
            if word_findings:
                new_words = _redact_words(words, spans, joined, word_findings)

    source = hypothesis.source_text
    new_source = source
    if source:
        new_source = redact_text(source, language=hypothesis.source_language or language)

    if new_text is text and new_words is words and new_source is source:
        return hypothesis
    return dataclasses.replace(hypothesis, text=new_text, words=new_words, source_text=new_source)
