"""Redaction of what the store keeps and the webhooks deliver (``stored`` and ``all`` modes).

A record is redacted as the hypothesis it came from would be (:func:`connector.redaction.redact_hypothesis`:
a finding's words become one marker word with their span of time), and a translation's text on
its own. Whether a call is redacted is decided once, when it opens, from ``customConfig.redaction``
and the server's ``CONNECTOR_REDACTION``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..redaction import Mode, call_mode, redact_hypothesis, redact_text, redacts_stored
from ..vocabulary import Hypothesis, Word
from .journal import Redactor
from .records import TranslationRecord, UtteranceRecord, WordRecord

__all__ = ["redact_record", "redacted_text", "redactor_for"]


def redact_record(record: UtteranceRecord) -> UtteranceRecord:
    """``record`` with card numbers, PINs, e-mail addresses, phone numbers... replaced by markers."""
    words = tuple(Word(w.value, w.offset, w.duration, w.confidence) for w in record.words)
    heard = Hypothesis(0, record.text, True, record.offset, record.duration, record.confidence, words,
                       language=record.language)  # fmt: skip
    redacted = redact_hypothesis(heard)
    translation = record.translation
    if translation is not None:
        translated = redact_text(translation.text, language=translation.language)
        if translated != translation.text:
            translation = TranslationRecord(translated, translation.language)
    if redacted is heard and translation is record.translation:
        return record
    return replace(
        record,
        text=redacted.text,
        words=tuple(WordRecord(w.value, w.start, w.duration, w.confidence) for w in redacted.words),
        translation=translation,
    )


def redactor_for(default: Mode) -> Callable[[Mapping[str, Any]], Redactor | None]:
    """The journal's per-call choice: :func:`redact_record` when the call's mode redacts what is stored."""

    def choose(options: Mapping[str, Any]) -> Redactor | None:
        try:
            mode = call_mode(options, default)
        except ValueError:
            mode = default  # refused at ``open`` already; never store unredacted because of a typo
        return redact_record if redacts_stored(mode) else None

    return choose


def redacted_text(text: str, language: str | None) -> str:
    return redact_text(text, language=language)
