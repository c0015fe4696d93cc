"""WAV files for the simulator: a RIFF parser that reads µ-law, a writer, and a resampler.

The stdlib ``wave`` module only reads PCM, while the audio Genesys sends (and most test audio we
keep) is G.711 µ-law, WAV format tag 7. So the RIFF chunks are walked here directly.

What is read: format tag 1 (PCM, 8- or 16-bit), tag 7 (µ-law, 8-bit), and both wrapped in
``WAVE_FORMAT_EXTENSIBLE``; one or two channels; any sample rate. Everything else (float, A-law,
24/32-bit PCM, more than two channels) is rejected with a :class:`WavError` that says why.
A ``data`` chunk whose declared size runs past the end of the file (WAVs written to a pipe
declare 0xFFFFFFFF) is read up to the last whole sample frame.

Audio at another rate than 8 kHz is resampled by :func:`resample` (windowed-sinc interpolation,
low-passed below the new Nyquist frequency), because speech tools write 16 or 22.05 kHz and
AudioHook carries only 8 kHz. Quality is ample for ASR tests; it is not a mastering resampler.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from connector.audio.codecs import decode_ulaw, encode_ulaw
from connector.vocabulary import SAMPLE_RATE, Pcm

__all__ = [
    "FORMAT_MULAW",
    "FORMAT_PCM",
    "WavAudio",
    "WavError",
    "WavInfo",
    "parse_wav",
    "read_wav",
    "resample",
    "wav_bytes",
    "write_wav",
]

FORMAT_PCM = 1
FORMAT_MULAW = 7
_FORMAT_EXTENSIBLE = 0xFFFE
_NAMES = {FORMAT_PCM: "PCM", 3: "IEEE float", 6: "A-law", FORMAT_MULAW: "µ-law"}
StrPath = str | PathLike[str]


class WavError(ValueError):
    """The bytes are not a WAV file this module can read."""


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What the ``fmt `` chunk says, plus the frame count of the ``data`` chunk."""

    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True, slots=True)
class WavAudio:
    """Decoded audio: int16 samples shaped ``(frames, channels)``."""

    samples: Pcm
    sample_rate: int
    info: WavInfo

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return int(self.samples.shape[0]) / self.sample_rate


def _chunks(data: bytes) -> dict[bytes, tuple[int, int]]:
    """RIFF chunk id → (offset, size) of its body; the first occurrence of each id wins."""
    if len(data) < 12 or data[:4] != b"RIFF":
        raise WavError("not a RIFF file")
    if data[8:12] != b"WAVE":
        raise WavError("RIFF file is not WAVE")
    found: dict[bytes, tuple[int, int]] = {}
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        size = min(size, len(data) - body)  # a streamed or truncated file: take what is there
        found.setdefault(chunk_id, (body, size))
        offset = body + size + (size & 1)  # chunks are padded to an even length
    return found


def parse_wav(data: bytes) -> tuple[WavInfo, bytes]:
    """Parse the header; return the format and the raw bytes of the ``data`` chunk.

    The raw bytes are trimmed to a whole number of sample frames.
    """
    chunks = _chunks(data)
    if b"fmt " not in chunks:
        raise WavError("no 'fmt ' chunk")
    if b"data" not in chunks:
        raise WavError("no 'data' chunk")
    fmt_off, fmt_size = chunks[b"fmt "]
    if fmt_size < 16:
        raise WavError(f"'fmt ' chunk too short ({fmt_size} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", data, fmt_off)
    if tag == _FORMAT_EXTENSIBLE:
        if fmt_size < 40:
            raise WavError("WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk too short")
        # The sub-format GUID starts with the classic format tag.
        (tag,) = struct.unpack_from("<H", data, fmt_off + 24)
    if tag not in (FORMAT_PCM, FORMAT_MULAW):
        name = _NAMES.get(tag, "unknown")
        raise WavError(f"unsupported WAV format tag {tag} ({name}); only PCM (1) and µ-law (7) are read")
    if tag == FORMAT_MULAW and bits != 8:
        raise WavError(f"µ-law WAV with {bits} bits per sample (expected 8)")
    if tag == FORMAT_PCM and bits not in (8, 16):
        raise WavError(f"PCM WAV with {bits} bits per sample (only 8 and 16 are read)")
    if channels not in (1, 2):
        raise WavError(f"WAV with {channels} channels (only mono and stereo are read)")
    if rate <= 0:
        raise WavError(f"invalid sample rate {rate}")
    frame_bytes = channels * bits // 8
    if block_align != frame_bytes:
        raise WavError(f"block align {block_align} does not match {channels} channel(s) of {bits} bits")
    data_off, data_size = chunks[b"data"]
    frames = data_size // frame_bytes
    info = WavInfo(format_tag=tag, channels=channels, sample_rate=rate, bits_per_sample=bits, frames=frames)
    return info, data[data_off : data_off + frames * frame_bytes]


def _decode(info: WavInfo, raw: bytes) -> Pcm:
    if info.format_tag == FORMAT_MULAW:
        flat = decode_ulaw(raw)
    elif info.bits_per_sample == 16:
        flat = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    else:  # 8-bit PCM is unsigned with a 128 offset
        flat = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    return flat.reshape(-1, info.channels)


def read_wav(source: StrPath | bytes, *, rate: int | None = None) -> WavAudio:
    """Read a WAV file (path or bytes) into int16 samples.

    With ``rate`` given, audio at another rate is resampled to it.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    info, raw = parse_wav(data)
    samples = _decode(info, raw)
    out_rate = info.sample_rate
    if rate is not None and rate != info.sample_rate:
        samples = resample(samples, info.sample_rate, rate)
        out_rate = rate
    return WavAudio(samples=samples, sample_rate=out_rate, info=info)


def _as_frames(samples: npt.ArrayLike) -> Pcm:
    arr = np.asarray(samples)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 2):
        raise ValueError(f"samples must be shaped (n,) or (n, 1|2), got {arr.shape}")
    if arr.dtype != np.int16:
        arr = np.clip(np.rint(arr), -32768, 32767).astype(np.int16)
    return arr


def wav_bytes(
    samples: npt.ArrayLike, *, rate: int = SAMPLE_RATE, encoding: Literal["ulaw", "pcm16"] = "ulaw"
) -> bytes:
    """Encode int16 samples (``(n,)`` mono or ``(n, channels)``) as a complete WAV file."""
    frames = _as_frames(samples)
    channels = int(frames.shape[1])
    if encoding == "ulaw":
        tag, bits, body = FORMAT_MULAW, 8, encode_ulaw(frames.reshape(-1))
    elif encoding == "pcm16":
        tag, bits, body = FORMAT_PCM, 16, frames.astype("<i2").tobytes()
    else:
        raise ValueError(f"unknown WAV encoding {encoding!r}")
    block = channels * bits // 8
    # µ-law needs the 18-byte WAVEFORMATEX (cbSize = 0) and a 'fact' chunk; PCM the plain 16 bytes.
    if tag == FORMAT_PCM:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
        extra = b""
    else:
        fmt = struct.pack("<HHIIHHH", tag, channels, rate, rate * block, block, bits, 0)
        extra = b"fact" + struct.pack("<II", 4, int(frames.shape[0]))
    pad = b"\x00" if len(body) & 1 else b""
    chunks = (
        b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", len(body)) + body + pad
    )
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write_wav(
    path: StrPath,
    samples: npt.ArrayLike,
    *,
    rate: int = SAMPLE_RATE,
    encoding: Literal["ulaw", "pcm16"] = "ulaw",
) -> None:
    """Write int16 samples as a µ-law (default) or 16-bit PCM WAV file."""
    Path(path).write_bytes(wav_bytes(samples, rate=rate, encoding=encoding))


_HALF_TAPS = 16  # sinc lobes on each side of an output sample
_BLOCK = 8192  # output samples per block: bounds the (block x taps) temporaries to a few MB


def resample(samples: npt.ArrayLike, src_rate: int, dst_rate: int) -> Pcm:
    """Resample int16 audio shaped ``(n,)`` or ``(n, channels)`` by windowed-sinc interpolation.

    When downsampling the sinc is widened so it low-passes at 0.9 x the new Nyquist frequency,
    which keeps speech energy above 4 kHz from folding back into the 8 kHz band.
    """
    arr = np.asarray(samples)
    mono = arr.ndim == 1
    frames = arr[:, None] if mono else arr
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError("sample rates must be positive")
    if src_rate == dst_rate:
        out = frames.astype(np.int16)
        return out[:, 0] if mono else out
    x = frames.astype(np.float64)
    n_in = x.shape[0]
    n_out = (n_in * dst_rate) // src_rate
    cutoff = 0.9 * min(1.0, dst_rate / src_rate)  # as a fraction of the input Nyquist frequency
    half = int(np.ceil(_HALF_TAPS / cutoff))
    padded = np.pad(x, ((half, half + 1), (0, 0)))
    offsets = np.arange(-half + 1, half + 1)
    result = np.empty((n_out, x.shape[1]), dtype=np.float64)
    for begin in range(0, n_out, _BLOCK):
        t = np.arange(begin, min(n_out, begin + _BLOCK)) * (src_rate / dst_rate)
        base = np.floor(t).astype(np.int64)
        idx = base[:, None] + offsets[None, :]  # input sample indices around each output time
        dist = t[:, None] - idx
        window = 0.5 + 0.5 * np.cos(np.pi * np.clip(dist / half, -1.0, 1.0))  # Hann
        weights = cutoff * np.sinc(cutoff * dist) * window
        taps = padded[idx + half]  # (block, taps, channels)
        result[begin : begin + len(t)] = np.einsum("bt,btc->bc", weights, taps)
    out = np.clip(np.rint(result), -32768, 32767).astype(np.int16)
    return out[:, 0] if mono else out
