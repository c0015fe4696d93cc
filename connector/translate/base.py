"""The translator interface: one small protocol so a backend is one module.

The session's translator task receives final hypotheses in utterance order, may run several
translations concurrently, and emits them in the same order. A backend only translates text;
ordering, timeouts, fallbacks and token timing are the session's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["TranslationError", "Translator", "TranslatorFactory"]


class TranslationError(Exception):
    """A translation failed; the session applies its fallback (send source text or skip)."""


class Translator(Protocol):
    async def translate(self, text: str, source_language: str, target_language: str) -> str:
        """Return only the translated text."""
        ...


class TranslatorFactory(Protocol):
    name: str

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def check(self, options: Mapping[str, Any]) -> None:
        """Raise ``EngineConfigError`` when a call asks for translation that cannot be served."""
        ...

    def create(self, options: Mapping[str, Any]) -> Translator: ...
