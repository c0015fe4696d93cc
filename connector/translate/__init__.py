"""Per-call translation of final transcripts (the session's translator slot)."""

from .base import TranslationError, Translator, TranslatorConfigError, TranslatorFactory

__all__ = ["TranslationError", "Translator", "TranslatorConfigError", "TranslatorFactory"]
