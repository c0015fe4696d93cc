"""The engine interface: what every speech recognizer implements, and nothing more.

A session runs one :class:`Recognizer` per audio channel as a task in its nursery. The
recognizer reads :class:`AudioChunk` and :class:`Flush` items from a memory channel and writes
:class:`Hypothesis` results to another. Times in results are **relative to the audio fed to
that recognizer** (sample index / ``SAMPLE_RATE``); the session maps them onto the stream timeline, so an
engine never needs to know about pauses, discards or position re-syncs.

The contract, which every engine's tests check:

* Input closed (end of stream) means: emit finals for everything heard, then return.
* :class:`Flush` means: what was heard so far becomes a final *now*; keep listening.
* Partials (``is_final=False``) carry the same ``utterance`` number as the final that
  supersedes them; a final ends that utterance number, and the next one is new.
* Blocking work (model inference, SDK calls) runs via ``trio.to_thread.run_sync`` under
  the shared ``limiter`` and must return promptly when cancelled (``abandon_on_cancel=False``
  plus an engine-level cancel signal), so that cancellation leaves no thread behind.
* An engine raises :class:`EngineError` (or anything else) to report a failure; the session
  turns it into a protocol ``disconnect`` after sending the finals it already has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import trio

from ..envparse import ConfigError
from ..vocabulary import SAMPLE_RATE, Hypothesis, Pcm, Word

__all__ = [
    "SAMPLE_RATE",
    "AudioChunk",
    "EngineConfigError",
    "EngineError",
    "EngineFactory",
    "Flush",
    "Hypothesis",
    "Pcm",
    "Recognizer",
    "RecognizerInput",
    "RecognizerSpec",
    "Word",
]

# SAMPLE_RATE, Pcm, Word and Hypothesis live on the ground floor (connector.vocabulary), so the
# protocol and the translators can name them without importing the engines; they are re-exported
# here so an engine imports its whole interface from this one module.


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono 16-bit PCM at 8 kHz for one channel, in the order it was streamed."""

    pcm: Pcm


@dataclass(frozen=True, slots=True)
class Flush:
    """Finalise what has been heard so far (sent on ``paused`` and ``update``)."""


RecognizerInput = AudioChunk | Flush


class EngineError(Exception):
    """A recognizer failed in a way the caller should report (``info`` is safe to send)."""


class EngineConfigError(EngineError, ConfigError):
    """Per-call options are invalid or credentials are missing; the message says what to fix.

    Also a :class:`~connector.envparse.ConfigError`: engines read their variables with
    ``EnvReader(env, error=EngineConfigError)`` (see :mod:`connector.envparse`).
    """


@dataclass(frozen=True, slots=True)
class RecognizerSpec:
    """What a session asks of an engine for one channel."""

    channel: int
    language: str
    options: Mapping[str, Any] = field(default_factory=dict)
    partials: bool = True
    """Whether the session will send partials; an engine may skip computing them when not."""


@runtime_checkable
class Recognizer(Protocol):
    """One streaming recognizer for one channel; see the module docstring for the contract."""

    async def run(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        results: trio.MemorySendChannel[Hypothesis],
    ) -> None:
        """Consume ``audio`` until it is closed, writing results; return after the last final."""
        ...


class EngineFactory(Protocol):
    """An engine: loaded once at server start-up, then asked for one recognizer per channel."""

    name: str

    async def start(self) -> None:
        """Load models or clients once (not on the ``opened`` path)."""
        ...

    async def aclose(self) -> None:
        """Release what :meth:`start` acquired."""
        ...

    def supported_languages(self) -> Sequence[str]:
        """BCP-47 codes (``en-US``) for ``opened.supportedLanguages``."""
        ...

    def supports_language(self, language: str) -> bool:
        """Whether a call in ``language`` (BCP-47, any case) can be transcribed."""
        ...

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        """Raise :class:`EngineConfigError` if a call with these options cannot be served."""
        ...

    def create(self, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> Recognizer:
        """A fresh recognizer for one channel; cheap, and must not block."""
        ...
