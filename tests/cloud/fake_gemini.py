"""A local fake of the Gemini API's ``models.get`` and ``generateContent`` (the real JSON shapes).

It "translates" deterministically: every word gets the target's language code appended and the
sentence ends with ``fin`` (so the word count changes, as real translations do). Requests can
be held until others arrive (ordering), hang (timeouts), fail with scripted statuses, or be
answered with scripted model output (text that is not the requested JSON, JSON without
``translation``) in a well-formed ``generateContent`` response.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.cloud.http_fake import FakeHTTP, Reply, Request

_GET = re.compile(r"^/v[0-9a-z]+/models/([^/:]+)$")
_GENERATE = re.compile(r"^/v[0-9a-z]+/models/([^/:]+):generateContent$")


def fake_translation(text: str, target: str) -> str:
    lang = target.split("-")[0]
    return " ".join(f"{w}-{lang}" for w in text.split()) + " fin"


@dataclass
class FakeGemini:
    api_key: str = "gemini-test-key"
    errors: list[int] = field(default_factory=list)
    error_message: str = "scripted"
    outputs: list[str] = field(default_factory=list)  # the model's text for the next requests, instead of JSON
    hang_text: str | None = None  # requests whose text contains this never get an answer
    hold_text: str | None = None  # requests whose text contains this wait ...
    hold_until: str = ""  # ... until the request with this text has been answered
    requests: list[dict[str, Any]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> FakeHTTP:
        self.http = FakeHTTP(self.route).start()
        return self.http

    def route(self, request: Request) -> Reply:
        key = request.headers.get("x-goog-api-key", "")
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT")
        path = request.path.split("?")[0]
        if request.method == "GET" and (m := _GET.match(path)):
            return Reply(200, {"name": f"models/{m.group(1)}", "supportedGenerationMethods": ["generateContent"]})
        m = _GENERATE.match(path)
        if request.method != "POST" or m is None:
            return _error(404, f"no route {path}", "NOT_FOUND")
        body = request.json()
        payload = json.loads(body["contents"][0]["parts"][0]["text"])
        with self._cond:
            self.requests.append({"model": m.group(1), "body": body, "payload": payload})
            self._cond.notify_all()
            status = self.errors.pop(0) if self.errors else None
        if status is not None:
            return _error(status, self.error_message, _STATUS.get(status, "UNAVAILABLE"))
        text = payload["text"]
        if self.hang_text and self.hang_text in text:
            self.http.release.wait(30)
            return _error(503, "released", "UNAVAILABLE")
        if self.hold_text and self.hold_text in text:
            with self._cond:
                self._cond.wait_for(lambda: self.hold_until in self.answered, timeout=10)
        with self._cond:
            self.answered.append(text)
            self._cond.notify_all()
        with self._cond:
            output = self.outputs.pop(0) if self.outputs else None
        answer = (
            output
            if output is not None
            else json.dumps({"translation": fake_translation(text, payload["target_language"])})
        )
        return Reply(
            200,
            {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"text": answer}]}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
                "modelVersion": m.group(1),
            },
        )


_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}


def _error(code: int, message: str, status: str) -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": status}})
