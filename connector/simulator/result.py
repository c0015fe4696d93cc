"""What one simulated call observed: transcripts, timings, the close outcome, protocol errors.

Times are ``trio.current_time()`` values (a monotonic clock with an arbitrary origin, the mock
clock under test), so every latency is a difference of two values from this one result.
``started_at_unix`` ties them to the wall clock when a report needs a date.

Frame send times are kept so a benchmark can compute end-of-speech → final latency the way
docs/measuring.md defines it: :meth:`CallResult.sent_at` gives the moment the frame holding
a given stream position left the client.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import Any

from connector.vocabulary import SAMPLE_RATE

__all__ = ["CallResult", "ProtocolError", "Token", "Transcript"]


@dataclass(frozen=True, slots=True)
class Token:
    """One word; ``offset`` is absolute on the stream timeline, in seconds."""

    value: str
    offset: float
    duration: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Transcript:
    """One ``transcript`` entity, flattened to its best alternative and first interpretation."""

    id: str
    channel_id: int
    channel: str | None  # the negotiated channel name for channel_id
    is_final: bool
    offset: float | None  # seconds, absolute on the stream timeline
    duration: float | None
    text: str
    confidence: float
    language: str | None
    tokens: tuple[Token, ...]
    received_at: float  # trio clock when the event arrived
    stream_position: float  # client stream position (s) when the event arrived
    event_seq: int  # seq of the event message that carried it

    @property
    def end(self) -> float | None:
        """Stream position where the utterance ends."""
        if self.offset is None or self.duration is None:
            return None
        return self.offset + self.duration


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """A server behaviour the reference client would reject.

    ``code`` is the ``error`` code the reference client sends for it (``None`` for checks it
    does not make, which we only record). ``fatal`` ones make the client close with ``error``.
    """

    code: int | None
    message: str
    fatal: bool
    at: float


@dataclass
class CallResult:
    """Everything one call observed. Filled in while the call runs; read it after."""

    session_id: str
    conversation_id: str
    started_at: float = 0.0
    started_at_unix: float = 0.0
    ended_at: float = 0.0
    # transport
    connected: bool = False
    rejected_status: int | None = None  # HTTP status when the upgrade was refused
    error: str | None = None  # connection-level failure (refused, dropped, timed out)
    ws_close_code: int | None = None
    # open
    open_sent_at: float | None = None
    opened: bool = False
    opened_latency: float | None = None  # open sent → opened received, seconds
    opened_params: dict[str, Any] | None = None
    selected_media: dict[str, Any] | None = None
    # during the call
    pong_latencies: list[float] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)
    events_received: int = 0
    updated_received: int = 0
    server_messages: list[dict[str, Any]] = field(default_factory=list)  # only with keep_messages
    # close
    close_reason: str | None = None  # the reason the client sent in `close`
    closed: bool = False  # `closed` received
    close_latency: float | None = None  # close sent → closed received
    disconnect_reason: str | None = None
    disconnect_info: str | None = None
    timeouts: list[str] = field(default_factory=list)  # "open", "close", "pong"
    protocol_errors: list[ProtocolError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # deviations from recommendations only
    # audio
    final_position: float = 0.0  # stream position (s) at the end
    frame_starts: list[int] = field(default_factory=list)  # stream position (samples) of each frame
    frame_ends: list[int] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)  # when each frame was sent

    @property
    def ok(self) -> bool:
        """Connected, opened, closed cleanly, with no protocol error, timeout or error disconnect."""
        return (
            self.error is None
            and self.opened
            and self.closed
            and not self.protocol_errors
            and not self.timeouts
            and self.disconnect_reason in (None, "completed")
        )

    @property
    def finals(self) -> list[Transcript]:
        return [t for t in self.transcripts if t.is_final]

    @property
    def audio_seconds_sent(self) -> float:
        return sum(e - s for s, e in zip(self.frame_starts, self.frame_ends, strict=True)) / SAMPLE_RATE

    def sent_at(self, position: float) -> float | None:
        """When the frame holding the sample at stream ``position`` (s) was sent.

        ``None`` if that sample was never sent (discarded, paused over, or past the end).
        """
        sample = int(position * SAMPLE_RATE + 1e-9)
        i = bisect.bisect_right(self.frame_ends, sample)
        if i < len(self.frame_ends) and self.frame_starts[i] <= sample:
            return self.frame_times[i]
        return None

    def to_dict(self, *, transcripts: bool = True) -> dict[str, Any]:
        """A JSON-ready summary (frame arrays left out: use the attributes for those)."""
        return {
            "session_id": self.session_id,
            "conversation_id": self.conversation_id,
            "ok": self.ok,
            "connected": self.connected,
            "rejected_status": self.rejected_status,
            "error": self.error,
            "opened": self.opened,
            "opened_latency": self.opened_latency,
            "selected_media": self.selected_media,
            "opened_params": self.opened_params,
            "pong_latencies": self.pong_latencies,
            "events_received": self.events_received,
            "finals": len(self.finals),
            "partials": len(self.transcripts) - len(self.finals),
            "close_reason": self.close_reason,
            "closed": self.closed,
            "close_latency": self.close_latency,
            "disconnect_reason": self.disconnect_reason,
            "disconnect_info": self.disconnect_info,
            "timeouts": self.timeouts,
            "protocol_errors": [asdict(e) for e in self.protocol_errors],
            "warnings": self.warnings,
            "final_position": self.final_position,
            "audio_seconds_sent": self.audio_seconds_sent,
            "duration": self.ended_at - self.started_at,
            **({"transcripts": [asdict(t) for t in self.transcripts]} if transcripts else {}),
        }
