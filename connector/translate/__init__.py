"""Per-call translation of final transcripts (the session's translator slot)."""

from .base import TranslationError, Translator, TranslatorFactory

__all__ = ["TranslationError", "Translator", "TranslatorFactory"]
