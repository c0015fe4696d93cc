"""One simulated call's audio timeline: position, pauses, injected events, frames. Sans-IO.

The position (samples per channel, the ``position`` of every client message) moves as frames
go out, and jumps where audio is skipped: a ``discarded`` injection, a server's ``discardTo``, or
a pause on a live call (``advance`` mode), whose stretch of audio is lost. Who paused, since
when, and what a resume skips are kept here; the messages that say so are built with the call's
:class:`~.builder.MessageBuilder`. ``epoch`` changes at every discontinuity, so a driver waiting
for a frame's deadline knows when that frame was never captured.
"""

from __future__ import annotations

from typing import Any

from connector.vocabulary import SAMPLE_RATE

from .builder import MessageBuilder
from .config import CallConfig, DiscardAt, ErrorAt, Injection, UpdateAt
from .pacing import FrameClock
from .result import CallResult
from .source import AudioSource

__all__ = ["StreamTimeline"]


class StreamTimeline:
    def __init__(self, config: CallConfig, audio: AudioSource, result: CallResult, out: MessageBuilder) -> None:
        self.cfg = config
        self.audio = audio
        self.r = result
        self.out = out
        self.end = audio.samples
        if config.duration is not None:
            self.end = min(self.end, round(config.duration * SAMPLE_RATE))
        self.eff_speed = config.speed if config.speed > 0 else 1.0
        ordered = sorted(enumerate(config.injections), key=lambda item: (item[1].at, item[0]))
        self.injections: list[tuple[int, Injection]] = [(round(i.at * SAMPLE_RATE), i) for _, i in ordered]
        self.next_injection = 0
        self.channels: tuple[str, ...] = ()
        self.fmt = "PCMU"
        self.epoch = 0  # bumped on every discontinuity (pause, resume, discard)
        self.clock = FrameClock(config.speed)
        self.server_paused = False
        self.client_paused = False
        self.pause_start_pos = 0
        self.pause_start_time = 0.0
        self.server_paused_during = False

    @property
    def pos(self) -> int:
        """Stream position in samples per channel; equal to the source position."""
        return self.out.pos

    @pos.setter
    def pos(self, value: int) -> None:
        self.out.pos = value

    @property
    def paused(self) -> bool:
        return self.server_paused or self.client_paused

    @property
    def injections_left(self) -> int:
        return len(self.injections) - self.next_injection

    def discard_to(self, seconds: float) -> dict[str, Any] | None:
        """``opened`` said ``discardTo``: skip ahead to there (``None`` if already past it)."""
        target = min(round(seconds * SAMPLE_RATE), self.end)
        if target <= self.pos:
            return None
        start, self.pos = self.pos, target
        return self.out.discarded(start, target - start)

    # ---- pauses --------------------------------------------------------------------------------

    def enter_pause(self, *, by_server: bool, now: float) -> dict[str, Any]:
        """Start (or repeat) a pause; the ``paused`` message tells the server."""
        if not self.paused:
            self.pause_start_pos = self.pos
            self.pause_start_time = now
            self.server_paused_during = by_server
        elif by_server:
            self.server_paused_during = True
        if by_server:
            self.server_paused = True
        else:
            self.client_paused = True
        self.epoch += 1
        return self.out.paused()

    def leave_pause(self, *, resume_time: float, nominal: int | None) -> dict[str, Any]:
        """Both pause flags clear: the ``resumed`` message with what the pause discarded.

        ``advance`` mode (a live call): the paused stretch of audio is lost, so the position
        jumps by the pause length: the injected duration, or the time the server kept us paused.
        ``freeze`` mode (the reference WAV source): nothing is lost, ``discarded`` is PT0S.
        """
        discarded = 0
        if self.cfg.pause_mode == "advance":
            if nominal is not None and not self.server_paused_during:
                discarded = nominal
            else:
                discarded = round((resume_time - self.pause_start_time) * self.eff_speed * SAMPLE_RATE)
                discarded = max(discarded, nominal or 0)
            discarded = max(0, min(discarded, self.end - self.pos))
        start = self.pause_start_pos
        self.pos += discarded
        message = self.out.resumed(start, discarded)
        self.clock.restart(resume_time, self.pos)
        self.epoch += 1
        return message

    def end_client_pause(self, *, resume_time: float, nominal: int) -> dict[str, Any] | None:
        """An injected pause is over; ``None`` while the server's own pause still holds."""
        self.client_paused = False
        if self.server_paused:
            return None  # the server's `resume` will end the pause
        return self.leave_pause(resume_time=resume_time, nominal=nominal)

    def pause_deadline(self) -> float | None:
        """When a live call's audio would run out during the server's pause (advance mode), else ``None``."""
        if self.cfg.pause_mode == "advance" and self.server_paused:
            return self.pause_start_time + (self.end - self.pause_start_pos) / (SAMPLE_RATE * self.eff_speed)
        return None

    # ---- streaming -----------------------------------------------------------------------------

    def due_injection(self) -> Injection | None:
        if self.next_injection < len(self.injections) and self.injections[self.next_injection][0] <= self.pos:
            self.next_injection += 1
            return self.injections[self.next_injection - 1][1]
        return None

    def next_injection_pos(self) -> int | None:
        if self.next_injection < len(self.injections):
            return self.injections[self.next_injection][0]
        return None

    def inject(self, inj: Injection) -> dict[str, Any] | None:
        """The message an injected event sends; ``None`` for a pause (the driver times it)."""
        if isinstance(inj, UpdateAt):
            return self.out.update(inj.language)
        if isinstance(inj, ErrorAt):
            return self.out.error(inj.code, inj.message, inj.retry_after)
        if isinstance(inj, DiscardAt):
            skipped = max(0, min(round(inj.duration * SAMPLE_RATE), self.end - self.pos))
            start = self.pos
            self.pos += skipped
            self.clock.skip(skipped)
            self.epoch += 1
            return self.out.discarded(start, skipped)
        return None

    def frame(self, stop: int, now: float) -> bytes | None:
        """The audio up to sample ``stop`` (``None`` without negotiated media); the position moves on."""
        data = None
        if self.channels:
            data = self.audio.frame(self.pos, stop, self.channels, self.fmt)
            self.r.frame_starts.append(self.pos)
            self.r.frame_ends.append(stop)
            self.r.frame_times.append(now)
        self.pos = stop
        return data
