"""A token bucket that delays, never drops (sans-IO: the caller passes the time).

Control messages (``pong``, ``opened``...) take a token without waiting and may drive the
balance below zero, so the total send rate the client sees stays within its limit while
control never waits behind events.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        if self.tokens < 0:
            self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now if self.updated is None else max(self.updated, now)

    def ready_at(self, now: float) -> float:
        """The earliest time at which one token is available (``now`` if already)."""
        self._refill(now)
        if self.tokens >= 1:
            return now
        return now + (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend one token (the caller waited for :meth:`ready_at`, or it is a control message)."""
        self._refill(now)
        self.tokens = max(self.tokens - 1, -self.burst)
