"""The reference client's two media sources, re-enacted: what audio and which messages they cause.

``client/src/mediasource-tone.ts`` (the suite's "Audiohook" cases and ``--connection-probe``) and
``client/src/mediasource-wav.ts`` (the "Transcript Connector" cases) differ in one way that
matters to a server: while paused, the tone source's position keeps running (``resumed``
reports the pause as ``discarded``), the WAV source's stands still (``discarded`` is zero).
Both send 200 ms frames; a zero-length tone stream (the probe) sends one *empty* frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from connector.audio.codecs import encode_ulaw
from connector.vocabulary import SAMPLE_RATE

__all__ = ["DEFAULT_OFFERS", "FRAME_SAMPLES", "RATE", "MediaSource", "PcmSource", "ToneSource", "media_offers"]

RATE = SAMPLE_RATE
FRAME_SAMPLES = 1600  # both sources send 200 ms frames
# mediasource-tone.ts: 200 ms of a 1 kHz tone in u-law, mono and stereo.
TONE_MONO = bytes([0xFF, 0x0D, 0x06, 0x0D, 0xFF, 0x8D, 0x86, 0x8D] * 200)
TONE_STEREO = bytes(
    [0xFF, 0xFF, 0x0D, 0x0D, 0x06, 0x06, 0x0D, 0x0D, 0xFF, 0xFF, 0x8D, 0x8D, 0x86, 0x86, 0x8D, 0x8D] * 200
)

Emit = Callable[..., None]


def media_offers(*channel_sets: Sequence[str]) -> list[dict[str, Any]]:
    """``channels.map(channels => ({type: 'audio', format: 'PCMU', channels, rate: 8000}))``."""
    return [{"type": "audio", "format": "PCMU", "channels": list(c), "rate": RATE} for c in channel_sets]


DEFAULT_OFFERS = media_offers(["external", "internal"], ["external"], ["internal"])


@dataclass
class MediaSource:
    """What the client session needs of a source; ``emit`` is how the source talks back to it."""

    offered_media: list[dict[str, Any]]
    end_samples: int
    state: str = "PREPARING"
    sample_pos: int = 0
    pause_start: int = 0
    selected: dict[str, Any] | None = None
    timer_running: bool = False
    emit: Emit = field(default=lambda *args: None)

    @property
    def position(self) -> float:
        return self.sample_pos / RATE

    def start(self, selected: dict[str, Any] | None, discard_to: float | None, start_paused: bool) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class ToneSource(MediaSource):
    """``MediaSourceTone1kHz``: the position keeps running while paused (audio is just not sent)."""

    def __init__(self, max_seconds: float | None = None, offered_media: list[dict[str, Any]] | None = None) -> None:
        seconds = 7 * 24 * 3600 if max_seconds is None else max_seconds
        super().__init__(offered_media or DEFAULT_OFFERS, math.trunc(seconds * RATE))

    def start(self, selected: dict[str, Any] | None, discard_to: float | None, start_paused: bool) -> None:
        assert self.state == "PREPARING"
        self.selected = selected
        if discard_to:
            new_pos = min(self.end_samples, round(discard_to * RATE) // FRAME_SAMPLES * FRAME_SAMPLES)
            if self.sample_pos < new_pos:
                start, skipped = self.sample_pos, new_pos - self.sample_pos
                self.sample_pos = new_pos
                self.state = "DISCARDING"
                self.emit("discarded", start / RATE, skipped / RATE)
        if start_paused:
            self.state = "PAUSED"
            self.pause_start = self.sample_pos
            self.emit("paused")
        else:
            self.state = "STREAMING"
        self.timer_running = True

    def tick(self) -> None:
        if self.selected is not None:
            frame = TONE_STEREO if len(self.selected["channels"]) == 2 else TONE_MONO
            count = min(self.end_samples - self.sample_pos, FRAME_SAMPLES)
            if self.state == "STREAMING":
                # A partial last frame; for a zero-length probe stream this is an empty frame.
                self.emit("audio", frame if count >= FRAME_SAMPLES else frame[: count * len(self.selected["channels"])])
            self.sample_pos += count
        else:
            self.sample_pos = min(self.sample_pos + FRAME_SAMPLES, self.end_samples)
        if self.sample_pos >= self.end_samples:
            self._signal_end()

    def _signal_end(self) -> None:
        self.timer_running = False
        if self.state not in ("END", "CLOSED"):
            self.state = "END"
            self.emit("end")

    def close(self) -> None:
        if self.timer_running:
            self._signal_end()
        self.state = "CLOSED"
        self.emit = lambda *args: None

    def pause(self) -> None:
        if self.state == "PAUSED":
            self.emit("paused")
        elif self.state == "STREAMING":
            self.state = "PAUSED"
            self.pause_start = self.sample_pos
            self.emit("paused")

    def resume(self) -> None:
        if self.state == "PAUSED":
            self.state = "STREAMING"
            self.emit("resumed", self.pause_start / RATE, (self.sample_pos - self.pause_start) / RATE)
        elif self.state == "STREAMING":
            self.emit("resumed", self.position, 0.0)


class PcmSource(MediaSource):
    """``MediaSourceWav`` over int16 audio: the position stands still while paused."""

    def __init__(self, channels: Sequence[npt.NDArray[np.int16]], max_seconds: float | None = None) -> None:
        self.pcm = np.stack(list(channels), axis=1)
        total = len(self.pcm)
        end = total if max_seconds is None else min(math.trunc(max_seconds * RATE), total)
        stereo = len(channels) == 2
        names = [["external", "internal"], ["external"], ["internal"]] if stereo else [["external"], ["internal"]]
        super().__init__(media_offers(*names), end)
        self.start_paused = False

    def start(self, selected: dict[str, Any] | None, discard_to: float | None, start_paused: bool) -> None:
        assert self.state == "PREPARING"
        self.selected = selected
        self.start_paused = start_paused
        if discard_to:
            new_pos = min(self.end_samples, round(discard_to * RATE) // FRAME_SAMPLES * FRAME_SAMPLES)
            if self.sample_pos < new_pos:
                start, skipped = self.sample_pos, new_pos - self.sample_pos
                self.sample_pos = new_pos
                self.emit("discarded", start / RATE, skipped / RATE)
        if self.start_paused:
            self.state = "PAUSED"
            self.pause_start = self.sample_pos
            self.emit("paused")
        else:
            self.state = "STREAMING"
        self.timer_running = True

    def tick(self) -> None:
        if self.state == "PAUSED":
            return
        count = max(0, min(FRAME_SAMPLES, self.end_samples - self.sample_pos))
        block = self.pcm[self.sample_pos : self.sample_pos + count]
        if count == 0:
            self._stream_end()
            return
        if self.selected is not None:
            if len(self.selected["channels"]) == block.shape[1]:
                data = encode_ulaw(block.reshape(-1))
            else:
                index = 0 if self.selected["channels"][0] == "external" else 1
                data = encode_ulaw(np.ascontiguousarray(block[:, index]))
            if self.state == "STREAMING":
                self.emit("audio", data)
        self.sample_pos += count
        if self.sample_pos >= self.end_samples:
            self._stream_end()

    def _stream_end(self) -> None:
        if self.timer_running:
            self.timer_running = False
            self.state = "END"
            self.emit("end")

    def close(self) -> None:
        self._stream_end()
        self.state = "CLOSED"
        self.emit = lambda *args: None

    def pause(self) -> None:
        if self.state == "PAUSED":
            self.emit("paused")
        elif self.state == "STREAMING":
            self.state = "PAUSED"
            self.pause_start = self.sample_pos
            self.emit("paused")
        else:
            self.start_paused = True

    def resume(self) -> None:
        if self.state == "PAUSED":
            self.state = "STREAMING"
            gap = self.sample_pos - self.pause_start
            self.sample_pos = self.pause_start
            self.emit("resumed", self.position, gap / RATE)
        elif self.state == "STREAMING":
            self.emit("resumed", self.position, 0.0)
        else:
            self.start_paused = False
