"""A raw AudioHook client for protocol tests: exact frames, no smarts.

The simulator is the well-behaved client; this one sends whatever a test says (wrong seq,
oversized text, odd frame lengths) and hands back every server message, checking only the
invariants every server message must keep (the referee's envelope and seq + 1, and the id).
Messages are built by the simulator's :class:`~connector.simulator.builder.MessageBuilder`;
``send``'s overrides and ``send_raw`` are how a test sends what no client should.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url, wrap_client_stream

from connector.audio.codecs import encode_ulaw
from connector.security import sign_request
from connector.server import ConnectorServer
from connector.simulator.builder import MessageBuilder, encode
from connector.simulator.referee import check_sequence, decode_server_text
from connector.vocabulary import SAMPLE_RATE

ORG = "d7934305-0972-4844-938e-9060eef73d05"
NIL = "00000000-0000-0000-0000-000000000000"

STEREO = {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": SAMPLE_RATE}
INVERTED = {"type": "audio", "format": "PCMU", "channels": ["internal", "external"], "rate": SAMPLE_RATE}
MONO_EXT = {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": SAMPLE_RATE}
MONO_INT = {"type": "audio", "format": "PCMU", "channels": ["internal"], "rate": SAMPLE_RATE}


def tone(seconds: float, freq: float = 440.0, amplitude: int = 8000, rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * math.pi * freq * t)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def interleave(*channels: np.ndarray) -> bytes:
    length = max(len(c) for c in channels)
    padded = [np.pad(c, (0, length - len(c))) for c in channels]
    return encode_ulaw(np.stack(padded, axis=1).reshape(-1))


@dataclass
class RawClient:
    ws: WebSocketConnection
    session_id: str
    samples: int = 0
    discarded: float = 0.0
    conversation_id: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    out: MessageBuilder = field(init=False)

    def __post_init__(self) -> None:
        self.out = MessageBuilder(self.session_id)

    @property
    def seq(self) -> int:
        """``seq`` of the last message sent; a test may move it to send out of order."""
        return self.out.seq

    @seq.setter
    def seq(self, value: int) -> None:
        self.out.seq = value

    @property
    def server_seq(self) -> int:
        return self.out.serverseq

    @property
    def position(self) -> float:
        return self.samples / SAMPLE_RATE + self.discarded

    async def send(self, msg_type: str, parameters: dict[str, Any] | None = None, **overrides: Any) -> int:
        """Build the next message (``overrides`` replace envelope keys, to send it wrong) and send it."""
        message = self.out.message(msg_type, parameters, at=self.position, overrides=overrides)
        await self.ws.send_message(encode(message))
        return self.out.seq

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send_message(data)

    async def open(
        self,
        *,
        media: list[dict[str, Any]] | None = None,
        language: str | None = "en-US",
        custom: dict[str, Any] | None = None,
        probe: bool = False,
        supported_languages: bool = False,
        organization_id: str = ORG,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        self.conversation_id = NIL if probe else conversation_id or str(uuid.uuid4())
        params: dict[str, Any] = {
            "organizationId": organization_id,
            "conversationId": self.conversation_id,
            "participant": {
                "id": NIL if probe else str(uuid.uuid4()),
                "ani": "" if probe else "+15555551234",
                "aniName": "" if probe else "Test Caller",
                "dnis": "" if probe else "+18005556789",
            },
            "media": media if media is not None else [STEREO, MONO_EXT, MONO_INT],
        }
        if language is not None:
            params["language"] = language
        if supported_languages:
            params["supportedLanguages"] = True
        if custom is not None:
            params["customConfig"] = custom
        await self.send("open", params)
        return await self.expect("opened", "disconnect")

    async def audio(self, *channels: np.ndarray, frame_ms: int = 100, speed: float | None = None) -> None:
        """Stream the channels in ``frame_ms`` frames: as fast as the socket takes them, or at
        ``speed`` times real time (a live source, for behaviour that depends on arrival)."""
        step = SAMPLE_RATE * frame_ms // 1000
        length = max(len(c) for c in channels)
        began = trio.current_time()
        for start in range(0, length, step):
            if speed is not None:
                await trio.sleep_until(began + start / SAMPLE_RATE / speed)
            parts = [c[start : start + step] for c in channels]
            await self.ws.send_message(interleave(*parts))
            self.samples += max(len(p) for p in parts)

    async def next(self, limit: float = 10) -> dict[str, Any]:
        with trio.fail_after(limit):
            raw = await self.ws.get_message()
        message = decode_server_text(raw)  # raises ReferenceViolation, an AssertionError
        assert message["id"] == self.session_id
        check_sequence(message, self.out.serverseq)
        self.out.serverseq = int(message["seq"])
        self.received.append(message)
        return message

    async def expect(self, *types: str, limit: float = 10) -> dict[str, Any]:
        """The next message that is one of ``types``, skipping events in between."""
        while True:
            message = await self.next(limit)
            if message["type"] in types:
                return message
            assert message["type"] == "event", f"unexpected {message['type']}: {message}"

    async def close(self, reason: str = "end", limit: float = 10) -> list[dict[str, Any]]:
        """Send ``close``; return every event up to ``closed``, then close the socket."""
        start = len(self.received)
        await self.send("close", {"reason": reason})
        await self.expect("closed", limit=limit)
        await self.ws.aclose()
        return [m for m in self.received[start:] if m["type"] == "event"]

    async def closed_by_server(self, limit: float = 15) -> None:
        """Wait until the server closes the connection."""
        with trio.fail_after(limit):
            try:
                while True:
                    await self.ws.get_message()
            except ConnectionClosed:
                return

    def transcripts(self, final: bool | None = None) -> list[dict[str, Any]]:
        out = []
        for message in self.received:
            if message["type"] != "event":
                continue
            for entity in message["parameters"]["entities"]:
                if entity["type"] == "transcript" and (final is None or entity["data"]["isFinal"] == final):
                    out.append(entity["data"])
        return out


def headers(
    url_host: str,
    path: str,
    *,
    session_id: str,
    api_key: str | None = "test-key",
    secret: str | None = None,
    organization_id: str = ORG,
    correlation_id: str | None = None,
    **sign_overrides: Any,
) -> list[tuple[str, str]]:
    correlation_id = correlation_id or str(uuid.uuid4())
    out = [
        ("Audiohook-Organization-Id", organization_id),
        ("Audiohook-Session-Id", session_id),
        ("Audiohook-Correlation-Id", correlation_id),
    ]
    if api_key is not None:
        out.append(("X-API-KEY", api_key))
    if secret is not None and api_key is not None:
        signed = sign_request(
            api_key=api_key,
            client_secret_b64=secret,
            host=url_host,
            target=path,
            organization_id=organization_id,
            session_id=session_id,
            correlation_id=correlation_id,
            **sign_overrides,
        )
        out += list(signed.items())
    return out


@asynccontextmanager
async def connect(
    port: int,
    path: str = "/audiohook",
    *,
    session_id: str | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
    **header_options: Any,
) -> AsyncIterator[RawClient]:
    session_id = session_id or str(uuid.uuid4())
    host = f"127.0.0.1:{port}"
    hdrs = extra_headers if extra_headers is not None else headers(host, path, session_id=session_id, **header_options)
    async with open_websocket_url(f"ws://{host}{path}", extra_headers=hdrs, connect_timeout=10) as ws:
        yield RawClient(ws, session_id)


@asynccontextmanager
async def connect_in_memory(
    server: ConnectorServer, api_key: str, path: str = "/audiohook"
) -> AsyncIterator[RawClient]:
    """A client wired to ``server`` over an in-memory stream pair: the whole server stack with no
    socket, so a test on trio's virtual clock can check the protocol's exact time bounds."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    session_id = str(uuid.uuid4())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handle_stream, server_stream)
        ws = await wrap_client_stream(
            nursery, client_stream, "127.0.0.1", path,
            extra_headers=headers("127.0.0.1", path, session_id=session_id, api_key=api_key),
        )  # fmt: skip
        yield RawClient(ws, session_id)
        nursery.cancel_scope.cancel()
