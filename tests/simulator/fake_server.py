"""A tiny scripted AudioHook server on 127.0.0.1 (real sockets), for the simulator's tests.

The fake server answers open/ping/close correctly by default; each test adds a hook that
misbehaves or drives pauses, and then checks both sides: what the client recorded in its
``CallResult`` and what actually went over the wire (:attr:`FakeServer.log`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from connector.audio.codecs import encode_ulaw
from connector.simulator import AudioSource, CallConfig
from connector.vocabulary import SAMPLE_RATE

EXT, INT = 1000, -3000  # constant levels, so every byte on the wire says which channel it is
EXT_BYTE, INT_BYTE = encode_ulaw([EXT]), encode_ulaw([INT])
BYTES_PER_SECOND_STEREO = 16000


def source(seconds: float) -> AudioSource:
    n = round(seconds * SAMPLE_RATE)
    return AudioSource.from_pcm(np.full(n, EXT), np.full(n, INT))


class Conn:
    """One accepted connection on the fake server, with its own seq/clientseq bookkeeping."""

    def __init__(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        self.ws = ws
        self.nursery = nursery
        self.session_id = ""
        self.seq = 0
        self.clientseq = 0
        self.lock = trio.Lock()

    async def send(self, msg_type: str, body: dict[str, Any] | None = None, **override: Any) -> None:
        """Send a well-formed message; ``override`` replaces (or, with ``None``, drops) envelope keys."""
        async with self.lock:
            self.seq += 1
            msg: dict[str, Any] = {
                "version": "2",
                "type": msg_type,
                "id": self.session_id,
                "seq": self.seq,
                "clientseq": self.clientseq,
                "parameters": {} if body is None else body,
            }
            for key, value in override.items():
                if value is None:
                    msg.pop(key, None)
                else:
                    msg[key] = value
            await self.ws.send_message(json.dumps(msg))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send_message(data)


Hook = Callable[[Conn, dict[str, Any]], Awaitable[bool]]  # True: handled, skip the default answer
AudioHook = Callable[[Conn, int], Awaitable[None]]  # called with the audio byte total so far


@dataclass
class FakeServer:
    url: str = ""
    hook: Hook | None = None
    on_audio: AudioHook | None = None
    reject: int | None = None
    answer_open: bool = True
    answer_ping: bool = True
    answer_close: bool = True
    opened_extra: dict[str, Any] = field(default_factory=dict)
    pick: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda offers: [offers[0]]
    log: list[tuple[float, str, Any]] = field(default_factory=list)  # (time, "text"|"audio", payload)
    headers: dict[str, str] = field(default_factory=dict)
    host: str = ""
    path: str = ""
    sessions: list[str] = field(default_factory=list)

    async def handle(self, request: WebSocketRequest) -> None:
        self.headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        self.host = request._event.host  # trio-websocket keeps Host only here
        self.path = request.path
        if self.reject is not None:
            await request.reject(self.reject)
            return
        ws = await request.accept()
        audio_total = 0
        async with trio.open_nursery() as nursery:
            conn = Conn(ws, nursery)
            try:
                while True:
                    data = await ws.get_message()
                    if isinstance(data, bytes):
                        self.log.append((trio.current_time(), "audio", data))
                        audio_total += len(data)
                        if self.on_audio is not None:
                            await self.on_audio(conn, audio_total)
                        continue
                    msg = json.loads(data)
                    self.log.append((trio.current_time(), "text", msg))
                    conn.clientseq = msg["seq"]
                    if msg["type"] == "open":
                        conn.session_id = msg["id"]
                        self.sessions.append(msg["id"])
                    if self.hook is not None and await self.hook(conn, msg):
                        continue
                    await self.default(conn, msg)
            except ConnectionClosed:
                pass
            nursery.cancel_scope.cancel()

    async def default(self, conn: Conn, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "open" and self.answer_open:
            params = {"media": self.pick(msg["parameters"]["media"]), **self.opened_extra}
            if msg["parameters"].get("supportedLanguages"):
                params.setdefault("supportedLanguages", ["en-US", "fr-CA"])
            await conn.send("opened", params)
        elif kind == "ping" and self.answer_ping:
            await conn.send("pong")
        elif kind == "close" and self.answer_close:
            await conn.send("closed")

    # ---- what the client sent ----
    def texts(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [m for _, k, m in self.log if k == "text" and (kind is None or m["type"] == kind)]

    def types(self) -> list[str]:
        return [m["type"] for m in self.texts()]

    def audio(self) -> bytes:
        return b"".join(m for _, k, m in self.log if k == "audio")

    def audio_between(self, first: str, second: str) -> int:
        """Audio bytes received after the first ``first`` message and before the next ``second``."""
        inside, total = False, 0
        for _, kind, m in self.log:
            if kind == "text" and m["type"] == first and not inside:
                inside = True
            elif kind == "text" and m["type"] == second and inside:
                return total
            elif kind == "audio" and inside:
                total += len(m)
        return total



def config(fake: FakeServer, **kw: Any) -> CallConfig:
    kw.setdefault("api_key", "test-key")
    return CallConfig(url=fake.url, **kw)


def transcript_entity(offset: float, text: str = "hello world", channel: int = 0, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "channelId": channel,
        "isFinal": True,
        "offset": f"PT{offset}S",
        "duration": "PT0.8S",
        "alternatives": [
            {
                "confidence": 0.9,
                "languages": ["en-US"],
                "interpretations": [
                    {
                        "type": "display",
                        "transcript": text,
                        "tokens": [
                            {"type": "word", "value": "hello", "confidence": 0.9,
                             "offset": f"PT{offset}S", "duration": "PT0.4S"},
                            {"type": "word", "value": "world", "confidence": 0.8,
                             "offset": f"PT{offset + 0.4:.1f}S", "duration": "PT0.4S"},
                        ],
                    }
                ],
            }
        ],
    }
    body.update(data)
    return {"type": "transcript", "data": body}
