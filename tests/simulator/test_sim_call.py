"""The simulator client against the fake server: a normal call, media, speed, probe, failures.

Timed logic runs on ``autojump_clock``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import trio

from connector.protocol import NIL_UUID
from connector.simulator import (
    CallConfig,
    Transcript,
    run_call,
)
from connector.vocabulary import SAMPLE_RATE
from tests.simulator.fake_server import (
    BYTES_PER_SECOND_STEREO,
    EXT_BYTE,
    INT_BYTE,
    Conn,
    FakeServer,
    config,
    source,
    transcript_entity,
)

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
                                     "rate": SAMPLE_RATE}
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
# media, speed, probe


@pytest.mark.parametrize(
    ("option", "pick", "expected_start", "samples_per_second"),
    [
        ("inverted", 0, INT_BYTE + EXT_BYTE, 2 * SAMPLE_RATE),
        ("stereo", 2, INT_BYTE + INT_BYTE, SAMPLE_RATE),  # mono internal
        ("mono-external", 0, EXT_BYTE + EXT_BYTE, SAMPLE_RATE),
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
