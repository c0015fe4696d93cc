"""One blocking gRPC ``StreamingRecognize`` call, driven from trio through a worker thread.

trio has no gRPC transport, so the SDK's blocking bidirectional stream runs in a thread:
audio goes in through a thread-safe queue that gRPC's own request thread drains (a blocking
``get``, never a poll), and each response is handed to trio with ``trio.from_thread.run``.

The call is made through the transport's stub rather than ``SpeechClient.streaming_recognize``
because the latter waits for the *first response* before returning the call object, and a
backend that never answers would then leave nothing to cancel. With the stub, :meth:`cancel`
works at any moment from any thread, which is what lets a cancelled session leave no thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from google.cloud.speech_v2 import StreamingRecognizeRequest, StreamingRecognizeResponse

__all__ = ["MAX_AUDIO_BYTES", "GrpcStream"]

MAX_AUDIO_BYTES = 12_800
"""Audio bytes per request (0.8 s at 8 kHz LINEAR16), well under the API's per-message cap."""

_HALF_CLOSE = object()

StreamingStub = Callable[..., Any]
"""``SpeechGrpcTransport.streaming_recognize``: ``stub(requests, timeout=, metadata=) -> call``."""


class GrpcStream:
    """A single gRPC stream; :meth:`run` blocks in a worker thread, the rest is thread-safe."""

    def __init__(
        self,
        stub: StreamingStub,
        first_request: StreamingRecognizeRequest,
        *,
        deadline: float,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._stub = stub
        self._first = first_request
        self._deadline = deadline
        self._metadata = tuple(metadata)
        self._requests: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._call: Any = None
        self._cancelled = False
        self._closed = False

    def send_audio(self, pcm: bytes) -> None:
        """Queue audio for the stream (split to the per-message limit); never blocks."""
        if self._closed:
            return
        for i in range(0, len(pcm), MAX_AUDIO_BYTES):
            self._requests.put(StreamingRecognizeRequest(audio=pcm[i : i + MAX_AUDIO_BYTES]))

    def half_close(self) -> None:
        """No more audio: the service finalises what it has, then ends the stream."""
        if not self._closed:
            self._closed = True
            self._requests.put(_HALF_CLOSE)

    def cancel(self) -> None:
        """Abort the call from any thread; idempotent and safe before :meth:`run` starts."""
        with self._lock:
            self._cancelled = True
            call = self._call
        self._closed = True
        self._requests.put(_HALF_CLOSE)  # releases gRPC's request thread if it waits for audio
        if call is not None:
            call.cancel()

    def _iter_requests(self) -> Iterator[StreamingRecognizeRequest]:
        yield self._first
        while True:
            item = self._requests.get()
            if item is _HALF_CLOSE:
                return
            assert isinstance(item, StreamingRecognizeRequest)
            yield item

    def run(self, deliver: Callable[[StreamingRecognizeResponse], None]) -> None:
        """Blocking: run the call, passing each response to ``deliver``; raises ``grpc.RpcError``.

        Whatever way this returns, the call is finished and gRPC's request thread released.
        """
        call = self._stub(self._iter_requests(), timeout=self._deadline, metadata=self._metadata)
        with self._lock:
            self._call = call
            cancelled = self._cancelled
        try:
            if cancelled:
                call.cancel()
            for response in call:
                deliver(response)
        finally:
            call.cancel()  # no-op when the call already ended
            self._requests.put(_HALF_CLOSE)
