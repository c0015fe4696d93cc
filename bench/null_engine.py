"""An engine that consumes audio and recognises nothing: the protocol path, measured alone.

The load benchmark runs the real server with this engine so the numbers say what the
WebSocket handling, the session state machine, µ-law decoding, channel splitting and the
recognizer plumbing cost, with no model in the way. Each channel still gets a real
recognizer task reading a real memory channel, exactly like a real engine's.

Load it in the server with ``CONNECTOR_ENGINES=null`` through ``bench/server.py``, or as
``bench.null_engine:create_engine`` anywhere an engine target is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from connector.asr import Hypothesis, RecognizerInput, RecognizerSpec

__all__ = ["NullEngine", "NullRecognizer", "create_engine"]

LANGUAGES = ("en-US", "en-GB", "es-ES", "es-US", "fr-FR", "de-DE", "it-IT", "pt-BR", "ja-JP", "nl-NL")


class NullRecognizer:
    """Reads every chunk (so buffers drain like a real engine's) and never emits."""

    def __init__(self) -> None:
        self.samples = 0

    async def run(
        self,
        audio: trio.MemoryReceiveChannel[RecognizerInput],
        results: trio.MemorySendChannel[Hypothesis],
    ) -> None:
        async for item in audio:
            pcm = getattr(item, "pcm", None)
            if pcm is not None:
                self.samples += len(pcm)


@dataclass
class NullEngine:
    name: str = "null"
    languages: Sequence[str] = LANGUAGES

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def supported_languages(self) -> Sequence[str]:
        return list(self.languages)

    def supports_language(self, language: str) -> bool:
        return language.lower() in {code.lower() for code in self.languages}

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        pass

    def create(self, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> NullRecognizer:
        return NullRecognizer()


def create_engine(env: Mapping[str, str]) -> NullEngine:
    """Engine entry point (``module:function`` form), like every engine module's."""
    return NullEngine(name=env.get("NULL_ENGINE_NAME", "null"))
