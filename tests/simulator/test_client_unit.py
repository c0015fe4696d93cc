"""The simulator client against a tiny scripted AudioHook server on 127.0.0.1 (real sockets).

The fake server answers open/ping/close correctly by default; each test adds a hook that
misbehaves or drives pauses, and then checks both sides: what the client recorded in its
``CallResult`` and what actually went over the wire. Timed logic runs on ``autojump_clock``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from connector.audio.codecs import encode_ulaw
from connector.protocol import NIL_UUID
from connector.simulator import (
    AudioSource,
    CallConfig,
    DiscardAt,
    ErrorAt,
    PauseAt,
    Transcript,
    UpdateAt,
    main,
    run_call,
    run_load,
)
from connector.simulator.client import FrameClock, next_frame_end

EXT, INT = 1000, -3000  # constant levels, so every byte on the wire says which channel it is
EXT_BYTE, INT_BYTE = encode_ulaw([EXT]), encode_ulaw([INT])
BYTES_PER_SECOND_STEREO = 16000


def source(seconds: float) -> AudioSource:
    n = round(seconds * 8000)
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


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeServer:
    server = FakeServer()
    ws_server = await nursery.start(serve_websocket, server.handle, "127.0.0.1", 0, None)
    server.url = f"ws://127.0.0.1:{ws_server.port}/audiohook"
    return server


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


# ---------------------------------------------------------------------------------------------
# pure arithmetic


def test_frame_clock_deadlines_are_absolute() -> None:
    clock = FrameClock(speed=1.0)
    clock.restart(10.0, 0)
    assert [clock.deadline(p) for p in (800, 1600, 8000)] == pytest.approx([10.1, 10.2, 11.0])
    clock.skip(4000)  # a 0.5 s discard keeps the cadence: the frame after it is due on time
    assert clock.deadline(4000 + 1600) == pytest.approx(10.2)
    clock.restart(20.0, 8000)  # resumed at t=20 with position 1 s
    assert clock.deadline(8800) == pytest.approx(20.1)
    fast = FrameClock(speed=4.0)
    assert fast.deadline(8000) == pytest.approx(0.25)
    assert FrameClock(speed=0.0).deadline(10**9) == float("-inf")


def test_next_frame_end_stops_at_the_end_and_at_injections() -> None:
    assert next_frame_end(0, 800, 10_000, None) == 800
    assert next_frame_end(9600, 800, 10_000, None) == 10_000
    assert next_frame_end(800, 800, 10_000, 1000) == 1000
    assert next_frame_end(800, 800, 10_000, 800) == 1600  # due now: handled before the frame
    assert next_frame_end(800, 800, 10_000, 5000) == 1600


def test_config_rejects_bad_values() -> None:
    cases: list[dict[str, Any]] = [{"frame_ms": 10}, {"frame_ms": 250}, {"speed": -1}, {"open_timeout": 0}]
    for bad in cases:
        with pytest.raises(ValueError):
            CallConfig(url="ws://127.0.0.1:1/x", **bad)
    with pytest.raises(ValueError, match="ws://"):
        CallConfig(url="http://127.0.0.1/x")


# ---------------------------------------------------------------------------------------------
# a normal call


async def test_normal_call_end_to_end(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    sent_event = False

    async def on_audio(conn: Conn, total: int) -> None:
        nonlocal sent_event
        if total >= BYTES_PER_SECOND_STEREO and not sent_event:  # after 1 s of audio
            sent_event = True
            await conn.send("event", {"entities": [transcript_entity(0.1)]})

    fake.on_audio = on_audio
    seen: list[Transcript] = []
    cfg = config(fake, custom_config={"engine": "x"}, language="fr-CA")
    result = await run_call(cfg, source(3.0), on_transcript=seen.append)

    assert result.ok, (result.error, result.protocol_errors, result.timeouts)
    assert result.close_reason == "end" and result.closed
    assert result.selected_media == {"type": "audio", "format": "PCMU", "channels": ["external", "internal"],
                                     "rate": 8000}
    # upgrade headers
    assert fake.headers["audiohook-organization-id"] == cfg.organization_id
    assert fake.headers["audiohook-session-id"] == cfg.session_id
    assert fake.headers["audiohook-correlation-id"] == cfg.correlation_id
    assert fake.headers["x-api-key"] == "test-key"
    assert "signature" not in fake.headers
    # open
    open_msg = fake.texts("open")[0]
    assert (open_msg["seq"], open_msg["serverseq"], open_msg["position"]) == (1, 0, "PT0S")
    params = open_msg["parameters"]
    assert params["organizationId"] == cfg.organization_id
    assert params["conversationId"] == cfg.conversation_id
    assert set(params["participant"]) == {"id", "ani", "aniName", "dnis"}
    assert [m["channels"] for m in params["media"]] == [["external", "internal"], ["external"], ["internal"]]
    assert params["language"] == "fr-CA" and params["customConfig"] == {"engine": "x"}
    assert "supportedLanguages" not in params
    # every client message: seq 1..n, serverseq never decreasing, parameters always there
    texts = fake.texts()
    assert [m["seq"] for m in texts] == list(range(1, len(texts) + 1))
    assert all(m["id"] == cfg.session_id and isinstance(m["parameters"], dict) for m in texts)
    serverseqs = [m["serverseq"] for m in texts]
    assert serverseqs == sorted(serverseqs)
    close = fake.texts("close")[-1]
    assert close["parameters"] == {"reason": "end"} and close["position"] == "PT3S"
    # audio: 3 s of stereo in 100 ms frames, external first
    frames = [m for _, k, m in fake.log if k == "audio"]
    assert len(frames) == 30 and {len(f) for f in frames} == {1600}
    assert fake.audio()[:4] == EXT_BYTE + INT_BYTE + EXT_BYTE + INT_BYTE
    # pings: at 1 s, again right after the first pong (with rtt); no third before the end
    pings = fake.texts("ping")
    assert len(pings) == 2 and "rtt" not in pings[0]["parameters"] and "rtt" in pings[1]["parameters"]
    assert len(result.pong_latencies) == 2
    assert result.opened_latency is not None and result.opened_latency >= 0
    # pacing: absolute 100 ms deadlines, no drift
    gaps = np.diff(result.frame_times)
    assert np.allclose(gaps, 0.1, atol=1e-6)
    assert result.sent_at(0.05) == result.frame_times[0]
    assert result.sent_at(2.95) == result.frame_times[-1]
    assert result.sent_at(3.5) is None
    assert result.audio_seconds_sent == pytest.approx(3.0)
    # the transcript, flattened
    assert len(result.transcripts) == 1 and seen == result.transcripts
    t = result.transcripts[0]
    assert (t.channel_id, t.channel, t.is_final, t.text, t.language) == (0, "external", True, "hello world", "en-US")
    assert t.offset == pytest.approx(0.1) and t.duration == pytest.approx(0.8)
    assert [k.value for k in t.tokens] == ["hello", "world"]
    assert [k.offset for k in t.tokens] == pytest.approx([0.1, 0.5])
    assert t.stream_position == pytest.approx(1.0, abs=0.11)


async def test_signed_upgrade_covers_host_and_target(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    secret = b"0123456789abcdef0123456789abcdef"
    cfg = config(fake, client_secret=base64.b64encode(secret).decode(), duration=0.2)
    cfg = replace(cfg, url=fake.url + "?tenant=a")
    result = await run_call(cfg)
    assert result.ok
    assert fake.path == "/audiohook?tenant=a"
    sig_input = fake.headers["signature-input"]
    covered = '("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" ' \
              '"audiohook-correlation-id" "x-api-key")'
    assert sig_input.startswith(f'sig1={covered};keyid="test-key";nonce="')
    lines = [
        f'"@request-target": {fake.path}',
        f'"@authority": {fake.host}',
        f'"audiohook-organization-id": {cfg.organization_id}',
        f'"audiohook-session-id": {cfg.session_id}',
        f'"audiohook-correlation-id": {cfg.correlation_id}',
        '"x-api-key": test-key',
        f'"@signature-params": {sig_input.removeprefix("sig1=")}',
    ]
    mac = hmac.new(secret, "\n".join(lines).encode(), hashlib.sha256).digest()
    assert fake.headers["signature"] == f"sig1=:{base64.b64encode(mac).decode()}:"
    assert fake.host == f"127.0.0.1:{fake.url.split(':')[2].split('/')[0]}"


# ---------------------------------------------------------------------------------------------
# strict validation of server messages


async def test_seq_gap_is_a_fatal_protocol_error(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "ping" and msg["seq"] == 2:
            conn.seq += 1  # skip one, once
        return False

    fake.hook = hook
    result = await run_call(config(fake), source(3.0))
    assert not result.ok
    assert [(e.code, e.fatal) for e in result.protocol_errors] == [(500, True)]
    assert "serverseq=1" in result.protocol_errors[0].message
    errors = fake.texts("error")
    assert [e["parameters"]["code"] for e in errors] == [500]
    assert result.close_reason == "error" and fake.texts("close")[0]["parameters"]["reason"] == "error"
    assert result.closed  # the server still answered close; the later seqs were fine again
    assert fake.types().index("error") < fake.types().index("close")


async def _opened_then(conn: Conn, msg: dict[str, Any], action: Callable[[Conn], Awaitable[None]]) -> bool:
    if msg["type"] != "open":
        return False
    await conn.send("opened", {"media": [msg["parameters"]["media"][0]]})
    await action(conn)
    return True


VIOLATIONS: dict[str, tuple[Callable[[Conn], Awaitable[None]], int]] = {
    "id mismatch": (lambda c: c.send("pong", id=str(uuid.uuid4())), 400),
    "no parameters": (lambda c: c.send("updated", parameters=None), 400),
    "no clientseq": (lambda c: c.send("updated", clientseq=None), 400),
    "wrong version": (lambda c: c.send("updated", version="1"), 400),
    "string seq": (lambda c: c.send("updated", seq="2"), 400),
    "binary frame": (lambda c: c.send_raw(b"\x00" * 160), 415),
    "too large": (lambda c: c.send("updated", {"pad": "x" * 70_000}), 413),
    "not json": (lambda c: c.send_raw("{not json"), 400),
    "unknown type": (lambda c: c.send("surprise"), 500),
    "bad disconnect reason": (lambda c: c.send("disconnect", {"reason": "bored"}), 500),
    "opened twice": (lambda c: c.send("opened", {"media": []}), 409),
    "closed unasked": (lambda c: c.send("closed"), 409),
}


@pytest.mark.parametrize("name", list(VIOLATIONS))
async def test_malformed_server_messages_are_caught(
    fake: FakeServer, autojump_clock: trio.abc.Clock, name: str
) -> None:
    action, code = VIOLATIONS[name]

    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        return await _opened_then(conn, msg, action)

    fake.hook = hook
    result = await run_call(config(fake), source(3.0))
    assert result.protocol_errors, name
    first = result.protocol_errors[0]
    assert (first.code, first.fatal) == (code, True), first
    assert fake.texts("error")[0]["parameters"]["code"] == code
    assert result.close_reason == "error"
    assert not result.ok


@pytest.mark.parametrize(
    ("media", "message"),
    [
        (lambda offers: offers[:2], "More than one media"),
        (lambda offers: [{**offers[0], "format": "L16"}], "not one of the offered"),
        (lambda offers: [{**offers[0], "channels": ["internal", "external"]}], "not one of the offered"),
    ],
)
async def test_bad_media_selection_is_rejected(
    fake: FakeServer, autojump_clock: trio.abc.Clock, media: Any, message: str
) -> None:
    fake.pick = media
    result = await run_call(config(fake), source(2.0))
    assert result.protocol_errors[0].code == 400 and message in result.protocol_errors[0].message
    assert fake.audio() == b""  # nothing streamed on a media the client did not offer
    assert result.close_reason == "error"


async def test_pong_with_wrong_clientseq_is_reported_but_not_fatal(
    fake: FakeServer, autojump_clock: trio.abc.Clock
) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "ping":
            await conn.send("pong", clientseq=msg["seq"] - 1)
            return True
        return False

    fake.hook = hook
    result = await run_call(config(fake), source(3.0))
    assert [(e.code, e.fatal) for e in result.protocol_errors] == [(400, False)]
    assert [e["parameters"]["code"] for e in fake.texts("error")] == [400]
    assert result.close_reason == "end" and result.closed
    assert result.pong_latencies == []


async def test_invalid_transcript_is_recorded(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 1600:
            bad = transcript_entity(0.1)
            bad["data"]["alternatives"][0]["confidence"] = 1.5
            await conn.send("event", {"entities": [bad, transcript_entity(0.2, channel=1)]})

    fake.on_audio = on_audio
    fake.pick = lambda offers: [offers[1]]  # mono external: channelId 1 does not exist
    result = await run_call(config(fake), source(1.0))
    messages = [e.message for e in result.protocol_errors]
    assert any("confidence 1.5" in m for m in messages)
    assert any("channelId 1" in m for m in messages)
    assert all(e.code is None and not e.fatal for e in result.protocol_errors)
    assert fake.texts("error") == []  # the reference client does not answer these
    assert result.closed and result.close_reason == "end" and not result.ok


# ---------------------------------------------------------------------------------------------
# timeouts


async def test_open_timeout(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.answer_open = False
    start = trio.current_time()
    result = await run_call(config(fake), source(3.0))
    assert result.timeouts == ["open"] and not result.opened
    assert fake.texts("error")[0]["parameters"] == {"code": 408, "message": "Open transaction timeout"}
    assert fake.texts("error")[0]["seq"] == 2
    assert result.close_reason == "error" and result.closed
    assert fake.audio() == b""
    assert result.ended_at - start == pytest.approx(5.0, abs=0.01)


async def test_close_timeout(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.answer_close = False
    result = await run_call(config(fake), source(0.5))
    assert result.timeouts == ["close"] and not result.closed and not result.ok
    assert fake.types()[-2:] == ["close", "error"]
    assert fake.texts("error")[0]["parameters"]["code"] == 408


async def test_pong_timeout(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.answer_ping = False
    result = await run_call(config(fake), source(10.0))
    assert result.timeouts == ["pong"]
    assert fake.texts("error")[0]["parameters"]["code"] == 408
    assert result.close_reason == "error"
    assert fake.texts("close")[0]["position"] == "PT6S"  # first ping at 1 s, next due at 6 s


# ---------------------------------------------------------------------------------------------
# pauses, discards and other injected events


@pytest.mark.parametrize(("mode", "discarded", "audio_seconds"), [("advance", "PT2S", 1.0), ("freeze", "PT0S", 3.0)])
async def test_start_paused_until_server_resumes(
    fake: FakeServer, autojump_clock: trio.abc.Clock, mode: str, discarded: str, audio_seconds: float
) -> None:
    fake.opened_extra = {"startPaused": True}

    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "paused":
            async def resume_later() -> None:
                await trio.sleep(2.0)
                await conn.send("resume")

            conn.nursery.start_soon(resume_later)
        return False

    fake.hook = hook
    result = await run_call(config(fake, pause_mode=mode), source(3.0))
    assert result.ok
    assert [t for t in fake.types() if t != "ping"][:3] == ["open", "paused", "resumed"]
    resumed = fake.texts("resumed")[0]
    assert resumed["parameters"] == {"start": "PT0S", "discarded": discarded}
    assert fake.audio_between("open", "resumed") == 0
    assert len(fake.audio()) == audio_seconds * BYTES_PER_SECOND_STEREO
    assert fake.texts("close")[0]["position"] == "PT3S"


async def test_server_pause_mid_stream(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == BYTES_PER_SECOND_STEREO:
            await conn.send("pause")

    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "paused":
            async def resume_later() -> None:
                await trio.sleep(1.5)
                await conn.send("resume")

            conn.nursery.start_soon(resume_later)
        return False

    fake.on_audio, fake.hook = on_audio, hook
    result = await run_call(config(fake), source(4.0))
    assert result.ok
    paused = fake.texts("paused")[0]
    resumed = fake.texts("resumed")[0]
    assert fake.audio_between("paused", "resumed") == 0
    start = float(resumed["parameters"]["start"][2:-1])
    assert start == float(paused["position"][2:-1]) and 1.0 <= start <= 1.1
    assert resumed["parameters"]["discarded"] == "PT1.5S"
    sent = len(fake.audio()) / BYTES_PER_SECOND_STEREO
    assert sent == pytest.approx(4.0 - 1.5)
    assert fake.texts("close")[0]["position"] == "PT4S"


@pytest.mark.parametrize("mode", ["advance", "freeze"])
async def test_client_pause_injection(fake: FakeServer, autojump_clock: trio.abc.Clock, mode: str) -> None:
    start = trio.current_time()
    result = await run_call(config(fake, pause_mode=mode, injections=(PauseAt(1.0, 2.0),)), source(5.0))
    assert result.ok
    paused, resumed = fake.texts("paused")[0], fake.texts("resumed")[0]
    assert paused["position"] == "PT1S"
    assert fake.audio_between("paused", "resumed") == 0
    close = fake.texts("close")[0]
    assert close["position"] == "PT5S"
    elapsed = fake.log[-1][0] - start
    if mode == "advance":  # a live call: the paused 2 s are lost, the call still lasts 5 s
        assert resumed["parameters"] == {"start": "PT1S", "discarded": "PT2S"}
        assert resumed["position"] == "PT3S"
        assert len(fake.audio()) == 3 * BYTES_PER_SECOND_STEREO
        assert result.frame_starts[10] == 3 * 8000
        assert result.sent_at(2.0) is None
        assert elapsed == pytest.approx(5.0, abs=0.01)
    else:  # the WAV source: nothing lost, the call takes 2 s longer
        assert resumed["parameters"] == {"start": "PT1S", "discarded": "PT0S"}
        assert len(fake.audio()) == 5 * BYTES_PER_SECOND_STEREO
        assert elapsed == pytest.approx(7.0, abs=0.01)


async def test_discard_update_and_error_injections(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "update":
            await conn.send("updated")
            return True
        return False

    fake.hook = hook
    injections = (DiscardAt(1.0, 0.5), UpdateAt(0.55, "fr-CA"), ErrorAt(2.0, 429, "slow down", retry_after=2.5))
    result = await run_call(config(fake, injections=injections), source(3.0))
    assert result.ok and result.updated_received == 1
    update = fake.texts("update")[0]
    assert update["parameters"] == {"language": "fr-CA"} and update["position"] == "PT0.55S"
    discarded = fake.texts("discarded")[0]
    assert discarded["parameters"] == {"start": "PT1S", "discarded": "PT0.5S"}
    assert discarded["position"] == "PT1.5S"
    error = fake.texts("error")[0]
    assert error["parameters"] == {"code": 429, "message": "slow down", "retryAfter": "PT2.5S"}
    assert error["position"] == "PT2S"
    assert len(fake.audio()) == 2.5 * BYTES_PER_SECOND_STEREO
    assert result.sent_at(1.2) is None and result.sent_at(1.6) is not None
    assert fake.texts("close")[0]["position"] == "PT3S"


async def test_discard_to_in_opened(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.opened_extra = {"discardTo": "PT1.2S"}
    result = await run_call(config(fake), source(3.0))
    assert result.ok
    assert fake.types()[:2] == ["open", "discarded"]
    assert fake.texts("discarded")[0]["parameters"] == {"start": "PT0S", "discarded": "PT1.2S"}
    assert len(fake.audio()) == 1.8 * BYTES_PER_SECOND_STEREO


async def test_server_disconnect(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 3200:
            await conn.send("disconnect", {"reason": "completed", "info": "done"})

    fake.on_audio = on_audio
    result = await run_call(config(fake), source(10.0))
    assert result.ok
    assert (result.disconnect_reason, result.disconnect_info) == ("completed", "done")
    assert result.close_reason == "disconnect"
    assert fake.texts("close")[0]["parameters"] == {"reason": "disconnect"}
    assert len(fake.audio()) == 3200


async def test_stop_event_ends_the_stream(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    stop = trio.Event()

    async def stopper() -> None:
        await trio.sleep(1.55)
        stop.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stopper)
        result = await run_call(config(fake), source(10.0), stop=stop)
    assert result.ok and fake.texts("close")[0]["position"] == "PT1.5S"


# ---------------------------------------------------------------------------------------------
# media, speed, probe


@pytest.mark.parametrize(
    ("option", "pick", "expected_start", "samples_per_second"),
    [
        ("inverted", 0, INT_BYTE + EXT_BYTE, 16000),
        ("stereo", 2, INT_BYTE + INT_BYTE, 8000),  # mono internal
        ("mono-external", 0, EXT_BYTE + EXT_BYTE, 8000),
    ],
)
async def test_channels_follow_the_negotiated_media(
    fake: FakeServer, autojump_clock: trio.abc.Clock, option: Any, pick: int, expected_start: bytes,
    samples_per_second: int,
) -> None:
    fake.pick = lambda offers: [offers[pick]]
    result = await run_call(config(fake, media=option, frame_ms=20), source(1.0))
    assert result.ok
    audio = fake.audio()
    assert audio[:2] == expected_start and len(audio) == samples_per_second
    assert {len(m) for _, k, m in fake.log if k == "audio"} == {samples_per_second // 50}


async def test_no_media_streams_nothing_but_keeps_time(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.pick = lambda offers: []
    start = trio.current_time()
    result = await run_call(config(fake), source(2.0))
    assert result.ok and fake.audio() == b""
    assert fake.texts("close")[0]["position"] == "PT2S"
    assert result.ended_at - start == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize(("speed", "wall"), [(2.0, 1.5), (0.0, 0.0)])
async def test_speed(fake: FakeServer, autojump_clock: trio.abc.Clock, speed: float, wall: float) -> None:
    start = trio.current_time()
    result = await run_call(config(fake, speed=speed, ping_interval=None), source(3.0))
    assert result.ok and len(fake.audio()) == 3 * BYTES_PER_SECOND_STEREO
    assert result.ended_at - start == pytest.approx(wall, abs=0.01)


async def test_probe(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    result = await run_call(config(fake, probe=True))
    assert result.ok
    assert fake.types() == ["open", "close"]
    params = fake.texts("open")[0]["parameters"]
    assert params["conversationId"] == NIL_UUID and params["participant"] == {
        "id": NIL_UUID, "ani": "", "aniName": "", "dnis": ""}
    assert params["supportedLanguages"] is True
    assert result.opened_params is not None and result.opened_params["supportedLanguages"] == ["en-US", "fr-CA"]


async def test_probe_without_supported_languages_fails(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.opened_extra = {"supportedLanguages": ["english"]}
    result = await run_call(config(fake, probe=True))
    assert not result.ok
    assert "invalid codes" in result.protocol_errors[0].message


# ---------------------------------------------------------------------------------------------
# connection failures


async def test_refused_connection_is_a_result_not_an_exception(autojump_clock: trio.abc.Clock) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await run_call(CallConfig(url=f"ws://127.0.0.1:{port}/x"))
    assert not result.connected and result.error is not None and "connection failed" in result.error
    assert not result.ok


async def test_http_rejection(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    fake.reject = 401
    result = await run_call(config(fake))
    assert result.rejected_status == 401 and not result.ok


async def test_server_dropping_the_socket(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 1600:
            await conn.ws.aclose(code=1011)

    fake.on_audio = on_audio
    result = await run_call(config(fake), source(3.0))
    assert result.error is not None and "closed" in result.error
    assert result.ws_close_code == 1011 and not result.ok


# ---------------------------------------------------------------------------------------------
# load and CLI


async def test_run_load(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    load = await run_load(config(fake), 3, source(1.0), ramp_up=1.5)
    summary = load.summary()
    assert summary["sessions"] == 3 and summary["completed"] == 3 and summary["failed"] == 0
    assert len(set(fake.sessions)) == 3
    assert summary["opened_latency_ms"]["p50"] is not None
    opens = [t for t, k, m in fake.log if k == "text" and m["type"] == "open"]
    assert np.diff(opens) == pytest.approx([0.5, 0.5], abs=0.01)


async def test_cli_json_report(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 1600:
            await conn.send("event", {"entities": [transcript_entity(0.0)]})

    fake.on_audio = on_audio
    argv = [fake.url, "--api-key", "k", "--speed", "0", "--duration", "0.5", "--ping-interval", "0", "--json"]
    code = await trio.to_thread.run_sync(main, argv)
    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == 0
    assert report["summary"]["completed"] == 1
    assert report["call"]["transcripts"][0]["text"] == "hello world"
    assert report["call"]["final_position"] == 0.5


async def test_cli_prints_transcripts_and_fails_on_errors(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 1600:
            await conn.send("event", {"entities": [transcript_entity(0.0, text="bonjour")]})
            conn.seq += 5

    fake.on_audio = on_audio
    argv = [fake.url, "--speed", "0", "--duration", "0.5", "--ping-interval", "0", "--update", "0.1:fr-FR"]
    code = await trio.to_thread.run_sync(main, argv)
    out = capsys.readouterr().out
    assert code == 1
    assert "FINAL" in out and "bonjour" in out and "ch0 external" in out
    assert "protocol error 500" in out


def test_cli_rejects_malformed_injections(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ws://127.0.0.1:1/x", "--pause", "1.0"])
    assert exc.value.code == 2
    assert "AT:SECONDS" in capsys.readouterr().err


async def test_finals_flushed_between_close_and_closed_are_kept(
    fake: FakeServer, autojump_clock: trio.abc.Clock
) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "close":
            await conn.send("event", {"entities": [transcript_entity(1.0)]})
            await conn.send("closed")
            return True
        return False

    fake.hook = hook
    result = await run_call(config(fake, injections=(UpdateAt(9.0, "fr-FR"),)), source(2.0))
    assert result.ok and len(result.finals) == 1
    assert result.finals[0].stream_position == pytest.approx(2.0)
    assert result.warnings == ["1 injection(s) beyond the end of the stream"]
