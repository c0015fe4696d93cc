"""A local gRPC server speaking Google Speech v2 ``StreamingRecognize`` on the real wire protocol.

There is no generated servicer base in ``google-cloud-speech``, so the service is a generic
handler built from the SDK's own proto-plus message classes (their ``serialize`` and
``deserialize``), registered under the real method path. The SDK's client talks to it through
an insecure channel exactly as it talks to Google.

Behaviour: the synthetic words of :mod:`tests.cloud.synthetic` are decoded from the audio and
answered like Google does: interim results while an utterance grows, a final with word offsets
(relative to the stream's first sample) after a pause, finals for everything on half-close.
Failures, hangs and the stream-duration limit are scripted per stream.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
import numpy as np
from google.cloud.speech_v2 import (
    SpeechRecognitionAlternative,
    StreamingRecognitionResult,
    StreamingRecognizeRequest,
    StreamingRecognizeResponse,
    WordInfo,
)

from tests.cloud.synthetic import SR, DecodedWord, WordDecoder

METHOD = "StreamingRecognize"
SERVICE = "google.cloud.speech.v2.Speech"


@dataclass
class Failure:
    """Abort the stream with ``code`` once it has received ``after`` seconds of audio."""

    after: float
    code: grpc.StatusCode
    details: str = "scripted failure"


@dataclass
class StreamRecord:
    config: StreamingRecognizeRequest
    audio_seconds: float = 0.0
    half_closed: bool = False
    outcome: str = "running"


@dataclass
class FakeSpeech:
    max_stream_seconds: float = 300.0
    failures: dict[int, Failure] = field(default_factory=dict)  # by stream index
    fail_all: Failure | None = None
    hang: bool = False
    interim: bool = True
    streams: list[StreamRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the service ------------------------------------------------------------------------

    def streaming_recognize(
        self, requests: Iterator[StreamingRecognizeRequest], context: grpc.ServicerContext
    ) -> Iterator[StreamingRecognizeResponse]:
        first = next(requests)
        with self._lock:
            index = len(self.streams)
            record = StreamRecord(config=first)
            self.streams.append(record)
        if not first.recognizer or not first.streaming_config.config.language_codes:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "first request must carry recognizer and config")
        failure = self.failures.get(index, self.fail_all)
        model = first.streaming_config.config.model
        zero_conf = model == "chirp"  # chirp (1) reports no confidences
        if failure is not None and failure.after <= 0:
            record.outcome = failure.code.name
            context.abort(failure.code, failure.details)
        if self.hang:
            yield from self._hang(requests, context, record)
            return
        decoder = WordDecoder()
        for request in requests:
            pcm = np.frombuffer(request.audio, dtype="<i2")
            record.audio_seconds += len(pcm) / SR
            if record.audio_seconds > self.max_stream_seconds + 1e-9:
                record.outcome = "OUT_OF_RANGE"
                context.abort(grpc.StatusCode.OUT_OF_RANGE, "Exceeded maximum allowed stream duration")
            if failure is not None and record.audio_seconds >= failure.after:
                record.outcome = failure.code.name
                context.abort(failure.code, failure.details)
            for utterance in decoder.feed(pcm):
                yield _final(utterance, decoder.pos / SR, zero_conf)
            partial = decoder.partial()
            if self.interim and partial:
                yield _interim(partial, decoder.pos / SR)
        record.half_closed = True
        rest = decoder.finish()
        if rest:
            yield _final(rest, decoder.pos / SR, zero_conf)
        record.outcome = "OK"

    def _hang(
        self,
        requests: Iterator[StreamingRecognizeRequest],
        context: grpc.ServicerContext,
        record: StreamRecord,
    ) -> Iterator[StreamingRecognizeResponse]:
        done = threading.Event()
        context.add_callback(done.set)  # runs when the client cancels or the server stops
        for request in requests:
            record.audio_seconds += len(request.audio) / 2 / SR
        record.half_closed = True
        done.wait(timeout=30)
        record.outcome = "CANCELLED"
        return
        yield  # a generator that never answers

    # -- running it ---------------------------------------------------------------------------

    def start(self) -> tuple[grpc.Server, str]:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                METHOD: grpc.stream_stream_rpc_method_handler(
                    self.streaming_recognize,
                    request_deserializer=StreamingRecognizeRequest.deserialize,
                    response_serializer=StreamingRecognizeResponse.serialize,
                )
            },
        )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="fake-google"))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        return server, f"127.0.0.1:{port}"


def _words(words: list[DecodedWord], zero_conf: bool) -> list[WordInfo]:
    return [
        WordInfo(
            word=w.name,
            start_offset=timedelta(seconds=w.start),
            end_offset=timedelta(seconds=w.end),
            confidence=0.0 if zero_conf else 0.9,
        )
        for w in words
    ]


def _final(words: list[DecodedWord], pos: float, zero_conf: bool) -> StreamingRecognizeResponse:
    alt = SpeechRecognitionAlternative(
        transcript=" ".join(w.name for w in words),
        confidence=0.0 if zero_conf else 0.92,
        words=_words(words, zero_conf),
    )
    result = StreamingRecognitionResult(
        alternatives=[alt], is_final=True, result_end_offset=timedelta(seconds=words[-1].end), language_code="en-us"
    )
    return StreamingRecognizeResponse(results=[result])


def _interim(words: list[DecodedWord], pos: float) -> StreamingRecognizeResponse:
    """Like Google's interim results: text and an end offset, no word offsets."""
    stable = StreamingRecognitionResult(
        alternatives=[SpeechRecognitionAlternative(transcript=" ".join(w.name for w in words[:-1]))],
        stability=0.9,
        result_end_offset=timedelta(seconds=pos),
    )
    unstable = StreamingRecognitionResult(
        alternatives=[SpeechRecognitionAlternative(transcript=words[-1].name)],
        stability=0.1,
        result_end_offset=timedelta(seconds=pos),
    )
    return StreamingRecognizeResponse(results=[stable, unstable] if len(words) > 1 else [unstable])
