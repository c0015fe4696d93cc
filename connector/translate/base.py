"""The translator interface: one small protocol so a backend is one module.

The session's translator task receives final hypotheses in utterance order, may run several
translations concurrently, and emits them in the same order. A backend only translates text;
ordering, timeouts, fallbacks and token timing are the session's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..envparse import ConfigError

__all__ = ["TranslationError", "Translator", "TranslatorConfigError", "TranslatorFactory"]


class TranslationError(Exception):
    """A translation failed; the session applies its fallback (send source text or skip)."""


class TranslatorConfigError(ConfigError):
    """A translator's settings or a call's translation options are invalid; the message says what to fix.

    The translators' own error, not the engines': translation sits beside the engines, not on top
    of them, so it does not import :mod:`connector.asr`. Callers that refuse a call or a start-up
    catch the ground-floor :class:`~connector.envparse.ConfigError`, which also covers a plug-in
    translator that raises :class:`~connector.asr.base.EngineConfigError` as it used to.
    """


class Translator(Protocol):
    async def translate(self, text: str, source_language: str, target_language: str) -> str:
        """Return only the translated text."""
        ...


class TranslatorFactory(Protocol):
    name: str

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def check(self, options: Mapping[str, Any]) -> None:
        """Raise :class:`TranslatorConfigError` when a call asks for translation that cannot be served."""
        ...

    def create(self, options: Mapping[str, Any]) -> Translator: ...
