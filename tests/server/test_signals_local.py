"""``audiohook-connector serve`` as a real process with the real embedded engine: SIGTERM and a second signal.

The server is the CLI (``python -m connector serve``) configured from the environment as an operator
would: the default engine (``local``, model ``tiny.en`` here so the model loads in about a second),
its real start (model load, warm-up) and stop, port 0 read from the ``listening`` log line. A stereo
call streams espeak-ng speech in real time on both channels with partials on, so decodes are
running in worker threads whenever a signal lands.

* SIGTERM, calls still streaming when ``CONNECTOR_DRAIN_TIMEOUT`` expires: the server sends them
  ``disconnect`` (``completed``), flushes their finals, answers their ``close`` with ``closed``,
  closes the engine and exits 0 — with no engine cancelled for being late and no error logged.
* A second signal during the drain stops at once: sessions are cancelled (decodes included; their
  threads stop at the next step), sockets and the engine are still closed in shielded cleanup, and
  the exit status says the drain was cut short: 128 + the second signal's number (130 for SIGINT,
  143 for SIGTERM), as a shell reports a process killed by that signal.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trio
from trio_websocket import ConnectionClosed

from connector.testing.server import TEST_SECRET
from connector.testing.speech import silence, synthesize, word_error_rate
from connector.vocabulary import SAMPLE_RATE
from tests.rawclient import STEREO, RawClient, connect, interleave
from tests.served_process import Served
from tests.served_process import serving as serve_process
from tests.server.test_handshake import http_request

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("speech_ready")

FIRST = "i would like to check the status of my order please"
SENTENCES = (
    "my account number is four five six seven",
    "i have been waiting on hold for a very long time today",
    "can you tell me when the package will arrive",
    "thank you for calling how can i help you today",
)


@asynccontextmanager
async def serving(tmp_path: Path, **env: str) -> AsyncIterator[Served]:
    """The CLI with the local engine (``tiny.en``, partials on) on a free port."""
    local = {
        "CONNECTOR_WORKER_THREADS": "2",
        "LOCAL_MODEL": "tiny.en",
        "LOCAL_THREADS": "1",
        "LOCAL_PARTIAL_INTERVAL": "0.5",
        "CONNECTOR_SEND_PARTIALS": "true",
    }
    async with serve_process(tmp_path, {**local, **env}, startup=60) as served:
        yield served


@dataclass
class Call:
    """A stereo call streaming speech in real time until told to stop, reading everything the server sends."""

    client: RawClient
    stop_audio: trio.Event = field(default_factory=trio.Event)
    audio_stopped: trio.Event = field(default_factory=trio.Event)
    disconnect: trio.Event = field(default_factory=trio.Event)
    closed: trio.Event = field(default_factory=trio.Event)
    lost: trio.Event = field(default_factory=trio.Event)
    first_final: trio.Event = field(default_factory=trio.Event)
    _mark: int = 0
    _reached: trio.Event = field(default_factory=trio.Event)
    streamed_all: bool = False
    stream_start: int = 0  # samples into the call where the live stream began
    answer_disconnect: bool = True

    async def stream(self, external: np.ndarray, internal: np.ndarray, frame_ms: int = 100) -> None:
        """Frames at real time (a live call); stops early on :attr:`stop_audio`."""
        step = SAMPLE_RATE * frame_ms // 1000
        began = trio.current_time()
        try:
            for start in range(0, max(len(external), len(internal)), step):
                with trio.move_on_at(began + start / SAMPLE_RATE):
                    await self.stop_audio.wait()
                if self.stop_audio.is_set():
                    return
                parts = (external[start : start + step], internal[start : start + step])
                await self.client.ws.send_message(interleave(*parts))
                self.client.samples += max(len(p) for p in parts)
                if self.client.samples - self.stream_start >= self._mark:
                    self._reached.set()
            self.streamed_all = True
        except ConnectionClosed:
            pass
        finally:
            self.audio_stopped.set()

    async def streamed(self, seconds: float) -> None:
        """Return once ``seconds`` of the live stream have been sent."""
        self._mark, self._reached = round(seconds * SAMPLE_RATE), trio.Event()
        with trio.fail_after(seconds + 10):
            await self._reached.wait()

    async def read(self) -> None:
        """Every server message until ``closed`` or the connection ends; answers ``disconnect`` with ``close``."""
        try:
            while True:
                message = await self.client.next(limit=120)
                if self.finals(0):
                    self.first_final.set()
                if message["type"] == "disconnect":
                    self.disconnect.set()
                    if not self.answer_disconnect:
                        continue
                    self.stop_audio.set()
                    await self.audio_stopped.wait()
                    await self.client.send("close", {"reason": "disconnect"})
                elif message["type"] == "closed":
                    self.closed.set()
                    await self.client.ws.aclose()  # as a client does after 'closed'
                    return
        except ConnectionClosed:
            pass
        finally:
            self.lost.set()

    def finals(self, channel: int | None = None) -> list[dict[str, Any]]:
        return [t for t in self.client.transcripts(final=True) if channel is None or t["channelId"] == channel]

    def texts(self, channel: int) -> list[str]:
        return [str(t["alternatives"][0]["interpretations"][0]["transcript"]) for t in self.finals(channel)]


def conversation(sentences: tuple[str, ...], gap: float) -> np.ndarray:
    return np.concatenate([np.concatenate([synthesize(s), silence(gap)]) for s in sentences])


@asynccontextmanager
async def live_call(port: int) -> AsyncIterator[Call]:
    """A stereo call with partials; its first sentence's final has arrived when this yields, and from
    then on a conversation streams live on both channels."""
    async with connect(port, secret=TEST_SECRET) as client, trio.open_nursery() as nursery:
        with trio.fail_after(10):
            reply = await client.open(media=[STEREO], custom={"partialResults": True})
        assert reply["type"] == "opened"
        call = Call(client)
        nursery.start_soon(call.read)
        # A call with speech gets its finals: the first sentence, heard by the real model.
        first = np.concatenate([silence(0.3), synthesize(FIRST), silence(0.8)])
        await client.audio(first, silence(len(first) / SAMPLE_RATE), frame_ms=100)
        with trio.fail_after(30):
            await call.first_final.wait()
        assert word_error_rate(FIRST, call.texts(0)[0]) <= 0.25, call.texts(0)
        external = conversation(SENTENCES, 0.6)
        internal = conversation(tuple(reversed(SENTENCES)), 0.4)
        call.stream_start = client.samples
        nursery.start_soon(call.stream, external, internal[: len(external)])
        yield call
        nursery.cancel_scope.cancel()


def every_heard_sentence_finalised(call: Call) -> None:
    """Every sentence of which at least 1.5 s had been sent when the audio stopped has a final with words.

    A shorter fragment may rightly end as an empty final (Whisper may hear a word cut in half as
    nothing), which is not sent; 1.5 s of these espeak sentences is four words or more.
    """
    sent = call.client.samples - call.stream_start
    heard_enough = round(1.5 * SAMPLE_RATE)
    for channel, sentences, gap in ((0, SENTENCES, 0.6), (1, tuple(reversed(SENTENCES)), 0.4)):
        heard, at = 0, 0
        for sentence in sentences:
            length = len(synthesize(sentence))
            if sent - at >= min(length, heard_enough):
                heard += 1
            at += length + round(gap * SAMPLE_RATE)
        worded = [text for text in call.texts(channel) if text.strip()]
        assert len(worded) - (channel == 0) >= heard >= 1, (channel, heard, sent, call.texts(channel))


async def test_sigterm_drain_timeout_ends_live_calls_with_their_finals(tmp_path: Path) -> None:
    async with serving(tmp_path, CONNECTOR_DRAIN_TIMEOUT="1") as served, live_call(served.port) as call:
        await call.streamed(1.0)  # SIGTERM mid-sentence on both channels; the drain adds 1 s
        finals_before = len(call.finals())
        served.process.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            await served.logged("draining").wait()
        status, _, body = await http_request(served.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503 and json.loads(body)["status"] == "draining"
        with trio.fail_after(15):  # 1 s of drain, then disconnect; finals flushed before 'closed'
            await call.disconnect.wait()
            await call.closed.wait()
        assert not call.streamed_all  # the call was still live when the drain timed out
        with trio.fail_after(20):
            code = await served.process.wait()
    disconnect = next(m for m in call.client.received if m["type"] == "disconnect")
    assert disconnect["parameters"]["reason"] == "completed"
    assert code == 0, served.messages()[-10:]
    messages = served.messages()
    assert "drain timeout: ending live sessions" in messages
    assert messages[-1] == "stopped"
    ended = [r for r in served.records if r.get("msg") == "session ended"]
    assert [r["outcome"] for r in ended] == ["disconnected"]
    assert ended[0]["finals"] == len(call.finals())
    for bad in ("engine did not finish in time; cancelling it", "unexpected error while serving a connection"):
        assert bad not in messages
    assert not [r for r in served.records if r.get("level") in ("ERROR", "CRITICAL") or r.get("raw")]
    # Finals as far as possible: every sentence heard when the audio stopped, the ones in progress included.
    every_heard_sentence_finalised(call)
    assert len(call.finals()) > finals_before


@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM])
async def test_second_signal_during_the_drain_stops_at_once(tmp_path: Path, second: signal.Signals) -> None:
    async with serving(tmp_path, CONNECTOR_DRAIN_TIMEOUT="60") as served, live_call(served.port) as call:
        served.process.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            await served.logged("draining").wait()
        assert not call.lost.is_set()  # the drain lets the call go on
        served.process.send_signal(second)
        with trio.fail_after(8):  # not the 60 s drain: cancelled, cleaned up, gone
            code = await served.process.wait()
            await call.lost.wait()
    messages = served.messages()
    assert code == 128 + second.value, messages[-10:]
    assert "second signal: stopping now" in messages
    assert messages[-1] == "stopped"
    assert not call.closed.is_set()  # cut short, not completed
    assert not [r for r in served.records if r.get("level") in ("ERROR", "CRITICAL") or r.get("raw")]
