"""The ``local`` engine factory: one Whisper model per server, one recognizer per channel.

:meth:`LocalEngine.start` loads (and checksums) the model once, in a worker thread, and runs
one warm-up decode so the first caller does not pay CTranslate2's first-use allocations. All
sessions then share that model; CTranslate2 runs up to ``LOCAL_THREADS`` decodes in parallel,
one core each, and the session's shared ``CapacityLimiter`` decides how many are in flight.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import trio

from ...audio.silero import SileroModel, shared_model
from ...vocabulary import SAMPLE_RATE
from ..base import EngineConfigError, EngineError, Recognizer, RecognizerSpec
from .config import LocalSettings
from .decoder import WhisperDecoder
from .languages import WHISPER_LANGUAGES, advertised_locales, to_whisper
from .models import LoadedModel, load_model
from .recognizer import LocalRecognizer

__all__ = ["LocalEngine"]

MODEL_OPTION = "localModel"  # customConfig key: may only name the model this server loaded


def _decoder(model: LoadedModel, settings: LocalSettings) -> WhisperDecoder:
    return WhisperDecoder(
        model,
        beam_size=settings.beam_size,
        final_pad=settings.final_pad,
        no_speech_threshold=settings.no_speech_threshold,
    )


class LocalEngine:
    """:class:`~connector.asr.base.EngineFactory` for the embedded Whisper engine."""

    name = "local"

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self._model: LoadedModel | None = None
        self._decoder: WhisperDecoder | None = None
        self._vad: SileroModel | None = None

    @property
    def model(self) -> LoadedModel | None:
        return self._model

    async def start(self) -> None:
        if self._model is not None:
            return
        settings = self.settings
        model = await trio.to_thread.run_sync(
            load_model, settings.model, settings.compute_type, settings.threads
        )
        decoder = _decoder(model, settings)
        await trio.to_thread.run_sync(self._warm_up, decoder, model)
        self._vad = await trio.to_thread.run_sync(shared_model)
        self._model, self._decoder = model, decoder

    @staticmethod
    def _warm_up(decoder: WhisperDecoder, model: LoadedModel) -> None:
        noise = (np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 100).astype(np.int16)
        language = model.languages[0] if model.tokenizer.multilingual else None
        decoder.decode(noise, language, final=True, cancel=threading.Event())

    def derive(self, **changes: Any) -> LocalEngine:
        """A started engine sharing this one's model but with other settings (tests, tuning).

        Only settings that do not affect the model itself may change (not ``model``,
        ``compute_type`` or ``threads``).
        """
        if self._model is None:
            raise EngineError("local engine used before start()")
        fixed = {"model", "compute_type", "threads"} & set(changes)
        if fixed:
            raise EngineConfigError(f"cannot change {', '.join(sorted(fixed))} of a loaded model")
        settings = dataclasses.replace(self.settings, **changes)
        other = LocalEngine(settings)
        other._model = self._model
        other._decoder = _decoder(self._model, settings)
        other._vad = self._vad
        return other

    async def aclose(self) -> None:
        self._model = None
        self._decoder = None
        self._vad = None

    def _languages(self) -> Sequence[str]:
        if self._model is not None:
            return self._model.languages
        if self.settings.model == "tiny.en":
            return ("en",)
        if self.settings.model == "base":
            return WHISPER_LANGUAGES[:99]
        return ()

    def supported_languages(self) -> Sequence[str]:
        return advertised_locales(self._languages())

    def supports_language(self, language: str) -> bool:
        return to_whisper(language, self._languages()) is not None

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        if not self.supports_language(language):
            model = self.settings.model
            raise EngineConfigError(
                f"language {language!r} is not supported by the local engine's model {model!r}"
                + (" (English only)" if self._languages() == ("en",) else "")
            )
        wanted = options.get(MODEL_OPTION)
        if wanted is not None and str(wanted) != self.settings.model:
            raise EngineConfigError(
                f"customConfig.{MODEL_OPTION}={wanted!r}: this server's local model is "
                f"{self.settings.model!r} (the model is server-wide, set by LOCAL_MODEL)"
            )

    def create(self, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> Recognizer:
        if self._model is None or self._decoder is None or self._vad is None:
            raise EngineError("local engine used before start()")
        self.check(spec.language, spec.options)
        whisper_language = to_whisper(spec.language, self._model.languages)
        # Partials cost about as much CPU as finals: decode them only for calls that send them.
        settings = self.settings if spec.partials else dataclasses.replace(self.settings, partial_interval=0.0)
        return LocalRecognizer(
            decoder=self._decoder,
            settings=settings,
            whisper_language=whisper_language if self._model.tokenizer.multilingual else None,
            language=spec.language,
            limiter=limiter,
            scorer=self._vad.stream,
        )
