"""Media negotiation: which of the client's offers to accept.

Preference, as the design asks: stereo with ``external`` first, then stereo in the inverted
order, then mono (external before internal). Within a preference class the client's own order
wins. The chosen offer is echoed back exactly as offered (same dict, same channel order),
because the client rejects anything that is not one of its offers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..vocabulary import SAMPLE_RATE

__all__ = ["MediaFormat", "select_media"]

_FORMATS = {"PCMU": 1, "L16": 2}  # bytes per sample
_CHANNELS = {"external", "internal"}


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """The accepted offer, plus what decoding needs."""

    offer: Mapping[str, Any]
    format: str
    channels: tuple[str, ...]

    @property
    def bytes_per_frame(self) -> int:
        """Bytes for one sample of every channel (frame lengths must be a multiple)."""
        return _FORMATS[self.format] * len(self.channels)


def _usable(offer: object) -> MediaFormat | None:
    if not isinstance(offer, Mapping):
        return None
    channels = offer.get("channels")
    if (
        offer.get("type") != "audio"
        or offer.get("format") not in _FORMATS
        or offer.get("rate") != SAMPLE_RATE
        or not isinstance(channels, list)
        or not 1 <= len(channels) <= 2
        or not all(isinstance(c, str) and c in _CHANNELS for c in channels)
        or len(set(channels)) != len(channels)
    ):
        return None
    return MediaFormat(offer=offer, format=str(offer["format"]), channels=tuple(channels))


def _rank(media: MediaFormat) -> int:
    if media.channels == ("external", "internal"):
        return 0
    if len(media.channels) == 2:
        return 1
    return 2 if media.channels == ("external",) else 3


def select_media(offers: Sequence[object]) -> MediaFormat | None:
    """The best usable offer, or ``None`` (the server then answers ``media: []``)."""
    usable = [m for m in (_usable(o) for o in offers) if m is not None]
    if not usable:
        return None
    return min(usable, key=_rank)  # min is stable: the client's order breaks ties
