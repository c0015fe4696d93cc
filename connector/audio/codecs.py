"""G.711 µ-law and L16 decoding with numpy, and de-interleaving by channel.

``audioop`` is gone in Python 3.13, so µ-law goes through a 256-entry lookup table built once
from the G.711 formula; decoding a frame is one ``take``. The encoder exists for the simulator
and the tests (turning generated speech into what Genesys would send).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..vocabulary import Pcm

__all__ = ["decode", "decode_channels", "decode_l16", "decode_ulaw", "deinterleave", "encode_ulaw"]

_BIAS = 0x84
_CLIP = 32635


def _build_ulaw_table() -> Pcm:
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


_ULAW_TABLE = _build_ulaw_table()
_ULAW_TABLE.setflags(write=False)


def decode_ulaw(data: bytes) -> Pcm:
    """µ-law bytes → int16 samples (interleaved channels stay interleaved)."""
    return _ULAW_TABLE.take(np.frombuffer(data, dtype=np.uint8))


def encode_ulaw(samples: npt.ArrayLike) -> bytes:
    """int16 samples → µ-law bytes (G.711, with the standard bias and clip)."""
    pcm = np.asarray(samples, dtype=np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), _CLIP) + _BIAS
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    code = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return bytes(code.astype(np.uint8).tobytes())


def decode_l16(data: bytes) -> Pcm:
    """L16 → int16. Little-endian, as the reference client reads it (host order on x86)."""
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def decode(data: bytes, fmt: str) -> Pcm:
    """Decode a frame in the negotiated format (``PCMU`` or ``L16``)."""
    if fmt == "PCMU":
        return decode_ulaw(data)
    if fmt == "L16":
        return decode_l16(data)
    raise ValueError(f"unsupported audio format {fmt!r}")


def decode_channels(data: bytes, fmt: str, channels: int) -> list[Pcm]:
    """Decode a frame straight into one contiguous array per channel.

    For µ-law this is one ``take`` through a transposed view: the per-frame cost of the
    protocol path matters at a thousand calls per core.
    """
    if fmt == "PCMU" and channels > 1:
        return list(_ULAW_TABLE.take(np.frombuffer(data, dtype=np.uint8).reshape(-1, channels).T))
    return deinterleave(decode(data, fmt), channels)


def deinterleave(samples: Pcm, channels: int) -> list[Pcm]:
    """Split interleaved samples into one contiguous array per channel."""
    if channels == 1:
        return [samples]
    frames = samples.reshape(-1, channels)
    return [np.ascontiguousarray(frames[:, i]) for i in range(channels)]
