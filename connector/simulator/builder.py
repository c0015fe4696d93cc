"""Client messages of the AudioHook protocol, built and stamped: sans-IO, no clock, no socket.

Every AudioHook client here (the simulator, the light benchmark client, the conformance tests'
reference client, the tests' raw client) builds its messages with :class:`MessageBuilder`, so
the envelope (``version``, ``id``, ``seq``, ``serverseq``, ``position``) is written in one place:
``seq`` counts the messages built, ``serverseq`` is the last server ``seq`` taken in (the
caller updates it), ``position`` is the stream position in samples per channel (the caller
moves it as audio goes out or is skipped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from connector.protocol.durations import format_duration
from connector.vocabulary import SAMPLE_RATE

__all__ = ["Counters", "MessageBuilder", "SeqCounters", "encode", "fine_duration", "samples_duration"]


def fine_duration(seconds: float) -> str:
    """A Duration with nanosecond resolution (the reference client's ``StreamDuration.asDuration()``)."""
    text = f"{max(0.0, seconds):.9f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def samples_duration(samples: int) -> str:
    """A Duration for a number of samples per channel (millisecond resolution)."""
    return format_duration(samples / SAMPLE_RATE)


def encode(message: Mapping[str, Any]) -> str:
    """Compact JSON, as clients send it."""
    return json.dumps(message, separators=(",", ":"))


class SeqCounters(Protocol):
    """Where a builder keeps its two counters (the reference client keeps them in its session view)."""

    seq: int
    serverseq: int


@dataclass
class Counters:
    seq: int = 0
    serverseq: int = 0


class MessageBuilder:
    """Builds one session's client messages; each built message takes the next ``seq``."""

    def __init__(
        self,
        session_id: str,
        *,
        counters: SeqCounters | None = None,
        duration: Callable[[float], str] = format_duration,
    ) -> None:
        self.session_id = session_id
        self.counters: SeqCounters = counters if counters is not None else Counters()
        self.duration = duration
        self.pos = 0
        """Stream position in samples per channel, reported as ``position``."""

    @property
    def seq(self) -> int:
        return self.counters.seq

    @seq.setter
    def seq(self, value: int) -> None:
        self.counters.seq = value

    @property
    def serverseq(self) -> int:
        return self.counters.serverseq

    @serverseq.setter
    def serverseq(self, value: int) -> None:
        self.counters.serverseq = value

    def message(
        self,
        msg_type: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        at: float | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The next message: ``at`` (seconds) replaces the position; ``overrides`` replace envelope keys."""
        self.counters.seq += 1
        message: dict[str, Any] = {
            "version": "2",
            "type": msg_type,
            "id": self.session_id,
            "seq": self.counters.seq,
            "serverseq": self.counters.serverseq,
            "position": self.duration(self.pos / SAMPLE_RATE if at is None else at),
            "parameters": dict(parameters) if parameters is not None else {},
        }
        if overrides:
            message.update(overrides)
        return message

    # ------------------------------------------------------------------ the client message types

    def open(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        return self.message("open", parameters)

    def ping(self, rtt: float | None = None) -> dict[str, Any]:
        """``rtt`` is the last measured round trip (sent with nanosecond resolution, like the reference)."""
        return self.message("ping", {"rtt": fine_duration(rtt)} if rtt is not None else {})

    def paused(self) -> dict[str, Any]:
        return self.message("paused")

    def resumed(self, start: int, discarded: int) -> dict[str, Any]:
        """``start`` and ``discarded`` in samples."""
        return self.message("resumed", self._gap(start, discarded))

    def discarded(self, start: int, discarded: int) -> dict[str, Any]:
        """``start`` and ``discarded`` in samples."""
        return self.message("discarded", self._gap(start, discarded))

    def update(self, language: str) -> dict[str, Any]:
        return self.message("update", {"language": language})

    def error(self, code: int, message: str, retry_after: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"code": code, "message": message}
        if retry_after is not None:
            params["retryAfter"] = format_duration(retry_after)
        return self.message("error", params)

    def close(self, reason: str) -> dict[str, Any]:
        return self.message("close", {"reason": reason})

    def _gap(self, start: int, discarded: int) -> dict[str, str]:
        return {"start": self.duration(start / SAMPLE_RATE), "discarded": self.duration(discarded / SAMPLE_RATE)}
