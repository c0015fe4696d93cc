"""What a call asked for and what the server offers: the inputs the session machine decides ``open`` and
``update`` with (pure data and pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .messages import LANGUAGE_CODE

__all__ = ["CallSettings", "SessionPolicy", "language_choice", "spoken_language"]


@dataclass(frozen=True, slots=True)
class CallSettings:
    """What a call asked for, after validation: engine, languages and per-call options.

    ``language`` is what the engine recognises; ``target_language`` is what transcripts are
    sent in. They differ only when the call asks for translation
    (``customConfig.enableTranslation`` with ``customConfig.inputLanguage`` as the source).
    """

    engine: str | None
    language: str
    options: Mapping[str, Any]
    channels: tuple[str, ...]
    target_language: str = ""

    @property
    def translating(self) -> bool:
        return bool(self.target_language) and self.target_language.lower() != self.language.lower()


def spoken_language(language: str, options: Mapping[str, Any]) -> str:
    """The language to recognise: ``inputLanguage`` when translating, else the call's language."""
    source = options.get("inputLanguage")
    if options.get("enableTranslation") is True and isinstance(source, str) and source.strip():
        return source.strip()
    return language


class SessionPolicy(Protocol):
    """What the server offers; pure functions, so the machine stays free of I/O."""

    def supported_languages(self, engine: str | None) -> Sequence[str]: ...

    def language_supported(self, engine: str | None, language: str) -> bool: ...

    def check_call(self, engine: str | None, language: str, options: Mapping[str, Any]) -> str | None:
        """``None`` if the call can be served, else an ``info`` saying what to fix."""
        ...


def language_choice(
    policy: SessionPolicy, engine: str | None, target: str, options: Mapping[str, Any]
) -> tuple[str, bool]:
    """The language to recognise for a call that wants transcripts in ``target``, and whether
    the call can be served in it (well-formed codes, and the engine supports the spoken one)."""
    spoken = spoken_language(target, options)
    usable = (
        bool(LANGUAGE_CODE.match(spoken))
        and (spoken == target or bool(LANGUAGE_CODE.match(target)))
        and policy.language_supported(engine, spoken)
    )
    return spoken, usable
