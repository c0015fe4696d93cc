"""Many simulated calls at once: N concurrent sessions, optional ramp-up, one summary.

Each call gets fresh session, correlation, conversation and participant ids (a real contact
centre never reuses them), and they share one :class:`AudioSource` (it is read-only). The
summary uses the definitions of docs/measuring.md: ``opened`` latency is open sent → opened
received, client side.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import trio

from .client import run_call
from .config import CallConfig
from .result import CallResult, Transcript
from .source import AudioSource

__all__ = ["LoadResult", "run_load"]


def _stats_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    arr = np.asarray(values) * 1000.0
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p99": round(float(np.percentile(arr, 99)), 3),
        "max": round(float(arr.max()), 3),
    }


@dataclass
class LoadResult:
    """The per-call results (in start order) and the wall time the whole run took."""

    results: list[CallResult]
    wall_seconds: float

    @property
    def completed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.completed

    def summary(self) -> dict[str, Any]:
        """Aggregates for a JSON report."""
        errors: list[str] = []
        for r in self.results:
            for text in [r.error, *(e.message for e in r.protocol_errors), *(f"timeout: {t}" for t in r.timeouts)]:
                if text and text not in errors and len(errors) < 10:
                    errors.append(text)
        finals = sum(len(r.finals) for r in self.results)
        return {
            "sessions": len(self.results),
            "completed": self.completed,
            "failed": self.failed,
            "wall_seconds": round(self.wall_seconds, 3),
            "opened_latency_ms": _stats_ms([r.opened_latency for r in self.results if r.opened_latency is not None]),
            "pong_latency_ms": _stats_ms([x for r in self.results for x in r.pong_latencies]),
            "close_latency_ms": _stats_ms([r.close_latency for r in self.results if r.close_latency is not None]),
            "transcripts": {
                "final": finals,
                "partial": sum(len(r.transcripts) for r in self.results) - finals,
            },
            "protocol_errors": sum(len(r.protocol_errors) for r in self.results),
            "timeouts": sum(len(r.timeouts) for r in self.results),
            "disconnects": sum(r.disconnect_reason is not None for r in self.results),
            "errors": errors,
        }


async def run_load(
    config: CallConfig,
    sessions: int,
    audio: AudioSource | None = None,
    *,
    ramp_up: float = 0.0,
    stop: trio.Event | None = None,
    on_transcript: Callable[[int, Transcript], None] | None = None,
) -> LoadResult:
    """Run ``sessions`` calls like ``config`` concurrently; call ``i`` starts at ``i x ramp_up / sessions``.

    ``on_transcript`` receives the call's index with each transcript.
    """
    if sessions < 1:
        raise ValueError("sessions must be >= 1")
    results: list[CallResult | None] = [None] * sessions
    start = trio.current_time()

    async def one(index: int) -> None:
        await trio.sleep_until(start + index * ramp_up / sessions)
        cfg = config if sessions == 1 else replace(
            config,
            session_id=str(uuid.uuid4()),
            correlation_id=str(uuid.uuid4()),
            conversation_id=str(uuid.uuid4()),
            participant_id=str(uuid.uuid4()),
        )
        callback = None if on_transcript is None else (lambda t: on_transcript(index, t))
        results[index] = await run_call(cfg, audio, stop=stop, on_transcript=callback)

    async with trio.open_nursery() as nursery:
        for i in range(sessions):
            nursery.start_soon(one, i)
    done = [r for r in results if r is not None]
    return LoadResult(results=done, wall_seconds=trio.current_time() - start)
