"""A small, bounded replay cache for signature nonces.

The reference server keeps no replay cache and relies on its short signature window; we add one
so a captured handshake cannot be replayed inside that window either. It is sans-IO: the caller
passes ``now`` (seconds), which keeps it deterministic under test clocks.

Entries sit in an ``OrderedDict`` in insertion order, so expiry is pruned from the front in
amortised O(1) per call. When full, the oldest entry is evicted: under a flood of *valid*
signatures (only verified nonces are stored) replay protection degrades for the oldest nonces
instead of memory growing or handshakes being refused.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["NonceCache"]


class NonceCache:
    """Remembers nonces for ``ttl`` seconds, at most ``max_entries`` of them."""

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        if ttl <= 0 or max_entries <= 0:
            raise ValueError("ttl and max_entries must be positive")
        self.ttl = ttl
        self.max_entries = max_entries
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    def _prune(self, now: float) -> None:
        # Insertion order is expiry order while ``now`` is monotonic; if the wall clock steps
        # back, a later entry may expire first and simply waits for the ones ahead of it.
        while self._expiry:
            nonce, expiry = next(iter(self._expiry.items()))
            if expiry > now:
                break
            del self._expiry[nonce]

    def seen_or_add(self, nonce: str, now: float) -> bool:
        """True if ``nonce`` was added less than ``ttl`` ago; otherwise record it and return False."""
        self._prune(now)
        expiry = self._expiry.get(nonce)
        if expiry is not None and expiry > now:
            return True  # a replay does not extend the original expiry
        self._expiry.pop(nonce, None)  # stale entry left behind by a clock step: re-add at the end
        self._expiry[nonce] = now + self.ttl
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)
        return False
