"""Gemini translation through ``google-genai`` (not the deprecated ``google-generativeai``).

Structured output (a JSON response schema with one ``translation`` field) makes the model
return only the translation: no preamble, no quotes, no notes to parse away. Requests go through
``client.aio`` on trio: the SDK's default async HTTP client keeps one pool per *asyncio* loop,
so the factory hands it its own ``httpx2.AsyncClient`` (anyio-based, so it runs on trio and
cancels cleanly when the pipeline's timeout fires).

Retries: 429, 5xx and transport errors are retried with backoff inside
:meth:`GeminiTranslator.translate`, at most ``max_attempts`` requests in all; the pipeline's
per-utterance timeout bounds the whole, so a slow backend degrades to the fallback. Anything else
raises :class:`TranslationError` at once (the pipeline's fallback applies): another 4xx, a rejected
key, output that is not the requested JSON, and JSON without a non-empty ``translation`` string.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import trio
from google import genai
from google.genai import errors, types

from ..envparse import EnvReader
from .base import TranslationError, TranslatorConfigError

__all__ = ["GeminiSettings", "GeminiTranslator", "GeminiTranslatorFactory", "create_translator"]

log = logging.getLogger(__name__)

_VERIFY_TIMEOUT = 5.0
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")

_SCHEMA = types.Schema(
    type=types.Type.OBJECT,
    properties={"translation": types.Schema(type=types.Type.STRING)},
    required=["translation"],
)

_INSTRUCTION = (
    "You translate call-centre transcripts. Translate the `text` field of the user's JSON from "
    "`source_language` to `target_language` (BCP-47 codes). Keep the meaning, register and names; "
    "do not add, explain or censor anything. Return only the translation."
)


@dataclass(frozen=True, slots=True)
class GeminiSettings:
    """``GEMINI_*`` variables; see ``docs/engines-cloud.md``."""

    api_key: str | None = None
    model: str = "gemini-2.5-flash"
    models: tuple[str, ...] = ()  # empty: any well-formed model name may be chosen per call
    base_url: str | None = None
    request_timeout: float = 10.0
    retry_base: float = 0.2
    retry_max: float = 2.0
    max_attempts: int = 4  # requests per translation, the first included (a dead backend fails fast, not forever)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GeminiSettings:
        read = EnvReader(env, error=TranslatorConfigError)
        request_timeout = read.number("GEMINI_TIMEOUT_S", 10.0)
        model = read.text("GEMINI_MODEL", "gemini-2.5-flash")
        models = read.words("GEMINI_MODELS", ())
        if not _MODEL_NAME.match(model) or (models and model not in models):
            raise TranslatorConfigError(f"GEMINI_MODEL={model!r} is not a valid (or allowed) Gemini model name")
        return cls(
            api_key=read.secret("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            model=model,
            models=models,
            base_url=read.text("GEMINI_BASE_URL") or None,
            request_timeout=max(0.1, request_timeout),
        )


class GeminiTranslator:
    """A :class:`~connector.translate.base.Translator` bound to one model."""

    def __init__(self, client: genai.Client, model: str, settings: GeminiSettings) -> None:
        self._client = client
        self._model = model
        self._settings = settings

    async def translate(self, text: str, source_language: str, target_language: str) -> str:
        payload = json.dumps(
            {"source_language": source_language, "target_language": target_language, "text": text},
            ensure_ascii=False,
        )
        config = types.GenerateContentConfig(
            system_instruction=_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=_SCHEMA,
            temperature=0.0,
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.aio.models.generate_content(
                    model=self._model, contents=payload, config=config
                )
                return _parse(response.text)
            except errors.APIError as exc:
                if _is_key_problem(exc):
                    raise TranslationError(f"Gemini rejected the key (HTTP {exc.code}); check GEMINI_API_KEY") from None
                if exc.code != 429 and (exc.code or 0) < 500:
                    raise TranslationError(f"Gemini rejected the request (HTTP {exc.code})") from None
                reason = f"HTTP {exc.code}"
            except httpx2.TransportError as exc:
                reason = type(exc).__name__
            if attempt >= self._settings.max_attempts:
                raise TranslationError(f"Gemini failed {attempt} times (last: {reason})")
            delay = min(self._settings.retry_max, self._settings.retry_base * 2 ** (attempt - 1))
            delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security
            log.info("gemini translation %s; retry %d in %.2f s", reason, attempt, delay)
            await trio.sleep(delay)


def _is_key_problem(exc: errors.APIError) -> bool:
    """401/403, or Gemini's 400 ``API_KEY_INVALID``."""
    return exc.code in (401, 403) or (exc.code == 400 and "api key" in str(exc.message or "").lower())


def _parse(text: str | None) -> str:
    try:
        value = json.loads(text or "")
    except json.JSONDecodeError:
        raise TranslationError("Gemini returned something other than the requested JSON") from None
    translation = value.get("translation") if isinstance(value, dict) else None
    if not isinstance(translation, str):
        raise TranslationError("Gemini's JSON has no `translation` string")
    if not translation.strip():
        # Sent on, an empty final would end the utterance with no words: the caller's words would be lost.
        raise TranslationError("Gemini's translation is empty")
    return translation


class GeminiTranslatorFactory:
    """:class:`~connector.translate.base.TranslatorFactory` named ``gemini``."""

    name = "gemini"

    def __init__(self, settings: GeminiSettings) -> None:
        self.settings = settings
        self._client: genai.Client | None = None
        self._http: httpx2.AsyncClient | None = None
        self._problem: str | None = None

    async def start(self) -> None:
        if not self.settings.api_key:
            log.warning("gemini translator has no API key (GEMINI_API_KEY); translation requests will be refused")
            return
        self._http = httpx2.AsyncClient(timeout=self.settings.request_timeout)
        options = types.HttpOptions(
            base_url=self.settings.base_url,
            timeout=int(self.settings.request_timeout * 1000),
            httpx_async_client=self._http,
        )
        self._client = genai.Client(api_key=self.settings.api_key, http_options=options)
        await self._verify_key(self._client)

    async def _verify_key(self, client: genai.Client) -> None:
        """One cheap request at start-up, so a rejected key is reported per call by :meth:`check`."""
        with trio.move_on_after(_VERIFY_TIMEOUT):
            try:
                await client.aio.models.get(model=self.settings.model)
            except errors.APIError as exc:
                if _is_key_problem(exc):
                    self._problem = f"Gemini rejected GEMINI_API_KEY (HTTP {exc.code}); set a valid key"
                    log.warning("%s", self._problem)
            except httpx2.TransportError as exc:
                log.info("gemini key not verified at start-up (%s)", type(exc).__name__)

    async def aclose(self) -> None:
        http, self._http = self._http, None
        self._client = None
        if http is not None:
            with trio.CancelScope(shield=True):
                await http.aclose()

    def _model(self, options: Mapping[str, Any]) -> str:
        model = options.get("translationModel", self.settings.model)
        allowed = self.settings.models
        if not isinstance(model, str) or not _MODEL_NAME.match(model) or (allowed and model not in allowed):
            hint = f"use one of: {', '.join(allowed)}" if allowed else "use a model name such as gemini-2.5-flash"
            raise TranslatorConfigError(f"customConfig.translationModel={model!r} is not usable; {hint}")
        return model

    def check(self, options: Mapping[str, Any]) -> None:
        if not self.settings.api_key:
            raise TranslatorConfigError("translation needs GEMINI_API_KEY (or GEMINI_API_KEY_FILE) on the server")
        if self._problem is not None:
            raise TranslatorConfigError(self._problem)
        if self._client is None:
            raise TranslatorConfigError("gemini translator is not started")
        self._model(options)

    def create(self, options: Mapping[str, Any]) -> GeminiTranslator:
        self.check(options)
        assert self._client is not None
        return GeminiTranslator(self._client, self._model(options), self.settings)


def create_translator(env: Mapping[str, str]) -> GeminiTranslatorFactory:
    return GeminiTranslatorFactory(GeminiSettings.from_env(env))
