"""What the simulated call says: two 8 kHz channels (external, internal), ready to frame.

A call always has both AudioHook channels; the server picks which ones it wants (stereo in
either order, or one mono channel), so the source keeps both and :meth:`AudioSource.frame`
interleaves the negotiated ones in the negotiated order. Stream position and source position
are the same thing (a pause that advances the stream skips source audio, as on a live call), so
a sample index on the source is directly a position on the server's timeline.

The µ-law encoding is done once at construction: one source can feed hundreds of concurrent
simulated calls, and each frame is then only a slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from connector.audio.codecs import encode_ulaw
from connector.vocabulary import SAMPLE_RATE

from .wav import StrPath, read_wav, resample

__all__ = ["SAMPLE_RATE", "AudioSource", "MonoChannel"]
MonoChannel = Literal["external", "internal", "both"]
_COLUMN = {"external": 0, "internal": 1}


def _mono(samples: npt.ArrayLike, rate: int) -> npt.NDArray[np.int16]:
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise ValueError(f"a channel must be a 1-D array, got shape {arr.shape}")
    if arr.dtype != np.int16:
        arr = np.clip(np.rint(arr), -32768, 32767).astype(np.int16)
    return resample(arr, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else arr


class AudioSource:
    """Immutable two-channel 8 kHz audio: column 0 is ``external``, column 1 ``internal``.

    Build one with :meth:`from_wav`, :meth:`from_pcm`, :meth:`silence` or :meth:`tone`.
    """

    __slots__ = ("_pcm", "_ulaw", "name")

    def __init__(self, pcm: npt.NDArray[np.int16], *, name: str = "audio") -> None:
        if pcm.ndim != 2 or pcm.shape[1] != 2 or pcm.dtype != np.int16:
            raise ValueError("AudioSource needs int16 samples shaped (n, 2)")
        self._pcm = np.ascontiguousarray(pcm)
        self._pcm.setflags(write=False)
        ulaw = np.frombuffer(encode_ulaw(self._pcm.reshape(-1)), dtype=np.uint8).reshape(-1, 2)
        self._ulaw = ulaw
        self.name = name

    @classmethod
    def from_pcm(
        cls,
        external: npt.ArrayLike,
        internal: npt.ArrayLike | None = None,
        *,
        rate: int = SAMPLE_RATE,
        name: str = "pcm",
    ) -> AudioSource:
        """From int16 (or float, clipped) arrays; a missing or shorter channel is padded with silence."""
        ext = _mono(external, rate)
        inn = _mono(internal, rate) if internal is not None else np.zeros(0, dtype=np.int16)
        n = max(len(ext), len(inn))
        pcm = np.zeros((n, 2), dtype=np.int16)
        pcm[: len(ext), 0] = ext
        pcm[: len(inn), 1] = inn
        return cls(pcm, name=name)

    @classmethod
    def from_wav(cls, source: StrPath | bytes, *, mono_channel: MonoChannel = "external") -> AudioSource:
        """From a WAV file (path or bytes): µ-law or 8/16-bit PCM, mono or stereo, any rate.

        Stereo files are (external, internal) in that order, the way Genesys records calls.
        A mono file becomes the ``mono_channel`` side of the call (the other side silent), or
        both sides with ``"both"``. Other rates than 8 kHz are resampled.
        """
        wav = read_wav(source, rate=SAMPLE_RATE)
        name = "wav" if isinstance(source, bytes) else str(source)
        if wav.channels == 2:
            return cls(np.ascontiguousarray(wav.samples), name=name)
        mono = wav.samples[:, 0]
        if mono_channel == "both":
            return cls.from_pcm(mono, mono, name=name)
        if mono_channel == "internal":
            return cls.from_pcm(np.zeros(0, dtype=np.int16), mono, name=name)
        return cls.from_pcm(mono, name=name)

    @classmethod
    def silence(cls, seconds: float) -> AudioSource:
        return cls(np.zeros((round(seconds * SAMPLE_RATE), 2), dtype=np.int16), name="silence")

    @classmethod
    def tone(cls, seconds: float, *, frequency: float = 1000.0, level: float = 0.25) -> AudioSource:
        """A sine on both channels (what the reference client streams when it has no file)."""
        t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        wave = np.rint(np.sin(2 * np.pi * frequency * t) * level * 32767).astype(np.int16)
        return cls.from_pcm(wave, wave, name=f"tone {frequency:g} Hz")

    @property
    def samples(self) -> int:
        """Length in samples per channel."""
        return int(self._pcm.shape[0])

    @property
    def duration(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def pcm(self) -> npt.NDArray[np.int16]:
        """Read-only int16 view shaped (n, 2): external, internal."""
        return self._pcm

    def frame(self, start: int, stop: int, channels: Sequence[str], fmt: str = "PCMU") -> bytes:
        """Samples ``[start, stop)`` of ``channels``, interleaved in that order, as PCMU or L16."""
        columns = [_COLUMN[c] for c in channels]
        if fmt == "PCMU":
            return self._ulaw[start:stop, columns].tobytes()
        if fmt == "L16":
            return self._pcm[start:stop, columns].astype("<i2").tobytes()
        raise ValueError(f"unsupported media format {fmt!r}")

    def __repr__(self) -> str:
        return f"AudioSource({self.name!r}, {self.duration:.3f} s)"
