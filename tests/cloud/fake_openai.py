"""A local fake of OpenAI's ``/v1/audio/transcriptions`` (multipart in, the real JSON shapes out).

It decodes the synthetic words of :mod:`tests.cloud.synthetic` from the uploaded WAV, so the
transcript (and, for ``verbose_json``, the word times relative to the clip) is exact. Scripted
behaviour: error statuses for the next requests, a hang, and a gate that holds one utterance's
request until later ones have arrived (to prove requests overlap and results keep their order).
"""

from __future__ import annotations

import hmac
import io
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import numpy as np

from tests.cloud.http_fake import FakeHTTP, Reply, Request
from tests.cloud.synthetic import SR, DecodedWord, WordDecoder


@dataclass
class Upload:
    fields: dict[str, list[str]]
    filename: str
    content_type: str
    rate: int
    channels: int
    width: int
    decoded: list[DecodedWord]
    duration: float

    @property
    def words(self) -> list[str]:
        return [w.name for w in self.decoded]


@dataclass
class FakeOpenAI:
    api_key: str = "sk-test"
    errors: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next responses' statuses
    hang: bool = False
    gate_word: str | None = None  # hold the request containing this word ...
    gate_until: str = ""  # ... until the request starting with this word has been answered
    uploads: list[Upload] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # first word of each successful answer, in order
    on_upload: Callable[[], None] | None = None  # called (in the server thread) for each request
    in_flight: int = 0
    max_in_flight: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> FakeHTTP:
        self.http = FakeHTTP(self.route).start()
        return self.http

    def route(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if not hmac.compare_digest(auth.encode(), f"Bearer {self.api_key}".encode()):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if request.method == "GET" and request.path == "/v1/models":
            return Reply(200, {"object": "list", "data": [{"id": "whisper-1", "object": "model", "owned_by": "x"}]})
        if request.method != "POST" or request.path != "/v1/audio/transcriptions":
            return _error(404, f"no route {request.path}", None)
        upload = _parse(request)
        with self._cond:
            self.uploads.append(upload)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._cond.notify_all()
            error = self.errors.pop(0) if self.errors else None
        if self.on_upload is not None:
            self.on_upload()
        try:
            if error is not None:
                status, headers = error
                return _error(status, "scripted", "scripted", headers)
            if self.hang:
                self.http.release.wait(30)
                return _error(500, "released", None)
            if self.gate_word is not None and self.gate_word in upload.words:
                with self._cond:
                    self._cond.wait_for(lambda: self.gate_until in self.answered, timeout=10)
            with self._cond:
                self.answered.append(upload.words[0] if upload.words else "")
                self._cond.notify_all()
            return Reply(200, _body(upload))
        finally:
            with self._cond:
                self.in_flight -= 1


def _parse(request: Request) -> Upload:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.body
    )
    fields: dict[str, list[str]] = {}
    wav_bytes, filename, content_type = b"", "", ""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        if name == "file":
            wav_bytes, filename, content_type = payload, part.get_filename() or "", part.get_content_type()
        else:
            fields.setdefault(name, []).append(payload.decode())
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    decoder = WordDecoder()
    utterances = decoder.feed(pcm)
    words = [w for u in utterances for w in u] + decoder.finish()
    return Upload(fields, filename, content_type, rate, channels, width, words, len(pcm) / SR)


def _body(upload: Upload) -> dict[str, Any]:
    words = upload.decoded
    text = " ".join(w.name for w in words)
    fmt = upload.fields.get("response_format", ["json"])[0]
    if fmt == "verbose_json":
        granularities = upload.fields.get("timestamp_granularities[]", [])
        body: dict[str, Any] = {
            "task": "transcribe",
            "language": "english",
            "duration": upload.duration,
            "text": text,
        }
        if "word" in granularities:
            body["words"] = [{"word": w.name, "start": w.start, "end": w.end} for w in words]
        if "segment" in granularities:
            body["segments"] = [
                {
                    "id": 0, "seek": 0, "start": 0.0, "end": upload.duration,
                    "text": text, "tokens": [1, 2], "temperature": 0.0, "avg_logprob": -0.105,
                    "compression_ratio": 1.0, "no_speech_prob": 0.01,
                }
            ]  # fmt: skip
        return body
    body = {"text": text, "usage": {"type": "duration", "seconds": 1}}
    if "logprobs" in upload.fields.get("include[]", []):
        # Tokens split words in two, like a real tokenizer: "w1000" → "w10" + "00".
        tokens: list[dict[str, Any]] = []
        for i, w in enumerate(words):
            head, tail = (" " if i else "") + w.name[:3], w.name[3:]
            tokens.append({"token": head, "logprob": -0.05, "bytes": list(head.encode())})
            tokens.append({"token": tail, "logprob": -0.25 if i == 0 else -0.05, "bytes": list(tail.encode())})
        body["logprobs"] = tokens
    return body


def _error(status: int, message: str, code: str | None, headers: dict[str, str] | None = None) -> Reply:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return Reply(status, {"error": error}, headers)
