"""The OpenAI engine: one ``AsyncOpenAI`` client per server, one recognizer per channel.

``openai.AsyncOpenAI`` runs on trio as is (httpx + anyio), so requests are plain awaits that
cancel cleanly, with no threads. At start-up the key is tried once (``GET /models``): a
rejected key is then reported by :meth:`OpenAIEngine.check` for every call that selects this
engine, instead of failing each utterance later. Servers without ``/models`` are fine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import openai
import trio

from ..base import EngineConfigError, Recognizer, RecognizerSpec
from ..languages import openai_language
from .config import OpenAISettings, parse_call_options
from .recognizer import OpenAIRecognizer
from .segmenter import make_segmenter
from .transcribe import Transcriber

__all__ = ["OpenAIEngine"]

log = logging.getLogger(__name__)

_VERIFY_TIMEOUT = 5.0


class OpenAIEngine:
    """:class:`~connector.asr.base.EngineFactory` for OpenAI (or compatible) speech-to-text."""

    name = "openai"

    def __init__(self, settings: OpenAISettings) -> None:
        self.settings = settings
        self._client: openai.AsyncOpenAI | None = None
        self._transcriber: Transcriber | None = None
        self._problem: str | None = None

    async def start(self) -> None:
        if not self.settings.api_key:
            self._problem = (
                "openai engine has no API key: set OPENAI_API_KEY or OPENAI_API_KEY_FILE "
                "(any non-empty value for an OpenAI-compatible server without authentication)"
            )
            log.warning("%s", self._problem)
            return
        self._client = openai.AsyncOpenAI(
            api_key=self.settings.api_key,
            base_url=self.settings.base_url,
            max_retries=0,
            timeout=self.settings.timeout,
        )
        self._transcriber = Transcriber(self._client, self.settings)
        await self._verify_key(self._client)

    async def _verify_key(self, client: openai.AsyncOpenAI) -> None:
        with trio.move_on_after(_VERIFY_TIMEOUT):
            try:
                await client.models.list()
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                self._problem = f"OpenAI rejected OPENAI_API_KEY (HTTP {exc.status_code}); set a valid key"
                log.warning("%s", self._problem)
            except openai.OpenAIError as exc:  # unreachable now, or no /models: decided per call
                log.info("openai key not verified at start-up (%s)", type(exc).__name__)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with trio.CancelScope(shield=True):
                await client.close()

    def supported_languages(self) -> Sequence[str]:
        return self.settings.languages

    def supports_language(self, language: str) -> bool:
        return openai_language(language) is not None

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        if self._problem is not None:
            raise EngineConfigError(self._problem)
        if self._client is None:
            raise EngineConfigError("openai engine is not started")
        if not self.supports_language(language):
            raise EngineConfigError(
                f"language {language!r} cannot be transcribed by the openai engine "
                "(neither an accepted ISO-639-1 code nor a native-language prompt is known)"
            )
        parse_call_options(options, self.settings)

    def create(self, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> Recognizer:
        self.check(spec.language, spec.options)
        assert self._transcriber is not None
        options = parse_call_options(spec.options, self.settings)
        request_language = openai_language(spec.language)
        assert request_language is not None
        return OpenAIRecognizer(
            transcriber=self._transcriber,
            segmenter=make_segmenter(self.settings),
            limiter=limiter,
            model=options.model,
            language=spec.language,
            request_language=request_language,
            prompt=options.prompt,
            max_concurrency=self.settings.max_concurrency,
            fallback_confidence=self.settings.fallback_confidence,
        )

