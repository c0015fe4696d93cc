"""The Google Speech v2 engine: one SDK client per server, one :class:`GoogleRecognizer` per channel.

Credentials: the service-account file named by ``GOOGLE_APPLICATION_CREDENTIALS`` in the
engine's environment, else Application Default Credentials (workload identity, the metadata
server, ``gcloud auth application-default login``). A problem with them does not stop the
server, since other engines may still serve calls; :meth:`GoogleEngine.check` reports it for
every call that selects this engine, saying what to fix. ``GOOGLE_SPEECH_INSECURE=true``
talks plaintext gRPC without credentials, for emulators and the test suite only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import trio
from google.api_core.client_options import ClientOptions
from google.api_core.gapic_v1.client_info import DEFAULT_CLIENT_INFO
from google.cloud.speech_v2 import (
    ExplicitDecodingConfig,
    RecognitionConfig,
    RecognitionFeatures,
    SpeechClient,
    StreamingRecognitionConfig,
    StreamingRecognitionFeatures,
    StreamingRecognizeRequest,
)
from google.cloud.speech_v2.services.speech.transports import SpeechGrpcTransport

from ...vocabulary import SAMPLE_RATE
from ..base import EngineConfigError, Recognizer, RecognizerSpec
from ..languages import google_language_code, tag_in
from .config import CallOptions, GoogleSettings, parse_call_options
from .recognizer import GoogleRecognizer

__all__ = ["GoogleEngine", "load_client"]

log = logging.getLogger(__name__)

_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def load_client(settings: GoogleSettings) -> tuple[SpeechClient, str]:
    """Blocking: build the SDK client and resolve the project, or say what to fix."""
    if settings.insecure:
        transport = SpeechGrpcTransport(channel=grpc.insecure_channel(settings.endpoint))
        return SpeechClient(transport=transport), settings.project or "local"
    import google.auth
    from google.auth.exceptions import GoogleAuthError
    from google.oauth2 import service_account

    adc_project: str | None
    try:
        if settings.credentials_file:
            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                settings.credentials_file, scopes=_SCOPES
            )
            adc_project = credentials.project_id
        else:
            credentials, adc_project = google.auth.default(scopes=_SCOPES)
    except (OSError, ValueError, GoogleAuthError) as exc:
        raise EngineConfigError(
            f"google engine has no usable credentials ({exc}). Set GOOGLE_APPLICATION_CREDENTIALS to a "
            "readable service-account JSON file, or configure Application Default Credentials"
        ) from None
    project = settings.project or adc_project
    if not project:
        raise EngineConfigError("google engine has no project: set GOOGLE_CLOUD_PROJECT")
    client = SpeechClient(credentials=credentials, client_options=ClientOptions(api_endpoint=settings.endpoint))
    return client, project


class GoogleEngine:
    """:class:`~connector.asr.base.EngineFactory` for Google Cloud Speech-to-Text v2."""

    name = "google"

    def __init__(self, settings: GoogleSettings) -> None:
        self.settings = settings
        self._client: SpeechClient | None = None
        self._project = ""
        self._problem: EngineConfigError | None = None
        # One thread per live gRPC stream: they wait on the network and do not compete with
        # model inference, so they get their own limiter instead of the shared CPU one.
        self._threads = trio.CapacityLimiter(settings.max_streams)
        self._metadata: tuple[tuple[str, str], ...] = (
            DEFAULT_CLIENT_INFO.to_grpc_metadata(),  # type: ignore[no-untyped-call]
        )

    async def start(self) -> None:
        try:
            self._client, self._project = await trio.to_thread.run_sync(load_client, self.settings)
        except EngineConfigError as exc:
            self._problem = exc
            log.warning("google engine unavailable: %s", exc)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.transport.close()  # type: ignore[no-untyped-call]

    def supported_languages(self) -> Sequence[str]:
        return self.settings.languages

    def supports_language(self, language: str) -> bool:
        return tag_in(language, self.settings.languages)

    def check(self, language: str, options: Mapping[str, Any]) -> None:
        if self._problem is not None:
            raise EngineConfigError(str(self._problem))
        if self._client is None:
            raise EngineConfigError("google engine is not started")
        if not self.supports_language(language):
            raise EngineConfigError(
                f"language {language!r} is not enabled for the google engine; add it to GOOGLE_SPEECH_LANGUAGES"
            )
        parse_call_options(options, self.settings)

    def create(self, spec: RecognizerSpec, limiter: trio.CapacityLimiter) -> Recognizer:
        self.check(spec.language, spec.options)
        assert self._client is not None
        options = parse_call_options(spec.options, self.settings)
        request = self._first_request(spec.language, options)
        return GoogleRecognizer(
            stub=self._client.transport.streaming_recognize,
            first_request=lambda: request,
            settings=self.settings,
            language=spec.language,
            threads=self._threads,
            metadata=self._metadata,
        )

    def _first_request(self, language: str, options: CallOptions) -> StreamingRecognizeRequest:
        config = RecognitionConfig(
            explicit_decoding_config=ExplicitDecodingConfig(
                encoding=ExplicitDecodingConfig.AudioEncoding.LINEAR16,
                sample_rate_hertz=SAMPLE_RATE,
                audio_channel_count=1,
            ),
            model=options.model,
            language_codes=[google_language_code(language)],
            features=RecognitionFeatures(
                enable_word_time_offsets=True,
                enable_word_confidence=True,
                enable_automatic_punctuation=options.automatic_punctuation,
                profanity_filter=options.profanity_filter,
            ),
        )
        return StreamingRecognizeRequest(
            recognizer=self.settings.recognizer_path(self._project),
            streaming_config=StreamingRecognitionConfig(
                config=config,
                streaming_features=StreamingRecognitionFeatures(interim_results=self.settings.interim_results),
            ),
        )
