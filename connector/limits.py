"""Per-session limits and timeouts (set from the environment by :mod:`connector.config`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SessionLimits"]


@dataclass(frozen=True)
class SessionLimits:
    event_rate: float = 5.0
    event_burst: float = 25.0
    event_batch_threshold: int = 0
    max_queued_events: int = 500
    send_partials: bool = False
    """Interim results are off by default: Genesys' reference test client counts every
    transcript event, partials included; a call can turn them on (``customConfig.partialResults``)."""
    max_buffered_audio: float = 30.0
    engine_chunk: float = 0.1
    """Seconds of audio gathered per channel before a recognizer is woken (0: every frame)."""
    engine_stop_timeout: float = 5.0
    open_timeout: float = 10.0
    close_timeout: float = 10.0
    send_timeout: float = 10.0
    idle_timeout: float = 60.0
    """No message at all (audio, ping) for this long: the client is gone without a FIN."""
