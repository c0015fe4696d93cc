"""Start and stop from outside the call: the control API's request, as the session machine sees it.

Operators start and stop transcription per conversation (IVR, hold music, queueing and surveys are
not transcribed). A request reaches the replica that holds the call through the store; the
machine applies each version once, in order, and a start may carry a language, an engine or
options that replace the call's own. Skipped audio is never fed to an engine, and the next
recognizers start on the stream timeline where the audio is, so offsets stay exact (as after
``paused``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .call import CallSettings, SessionPolicy, language_choice

__all__ = ["ControlRequest", "controlled_settings"]


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """Version ``version`` of a conversation's control: transcribe (``start``) or not."""

    version: int
    start: bool
    language: str | None = None
    engine: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def controlled_settings(policy: SessionPolicy, settings: CallSettings, request: ControlRequest) -> CallSettings | str:
    """The call's settings with a start's language, engine and options applied, or why not."""
    if request.language is None and request.engine is None and not request.options:
        return settings
    engine = request.engine if request.engine is not None else settings.engine
    options = {**settings.options, **request.options}
    target = request.language or settings.target_language or settings.language
    spoken, usable = language_choice(policy, engine, target, options)
    if not usable:
        return f"language {target!r} is not supported by engine {engine or 'default'!r}"
    problem = policy.check_call(engine, spoken, options)
    if problem is not None:
        return problem
    return CallSettings(
        engine=engine, language=spoken, options=options, channels=settings.channels, target_language=target
    )
