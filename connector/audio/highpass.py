"""A streaming high-pass filter that keeps every sample where it was (no timeline shift).

Why: hum and rumble below ~100 Hz (mains hum, a poor line, handling noise) can be louder than
the voice itself, and Silero VAD then scores clear speech as silence: on a real recording with
a strong sub-100 Hz component, a long stretch of speech was never transcribed without this
filter (the figures are in docs/engine-local.md, "Rumble filter"). Telephone speech carries
nothing useful below ~100 Hz (G.712 band: 300–3400 Hz), so removing it costs the recognizer nothing.

The filter is a linear-phase (Kaiser-windowed sinc) FIR, applied *centred*: output sample ``m``
is the filtered signal at input sample ``m``, so sample indices, and thus every word offset,
stay exact. The price is a look-ahead of :data:`DELAY` samples (16 ms): :meth:`HighPass.process`
returns outputs up to ``DELAY`` samples behind its input, and :meth:`HighPass.flush` returns
those last ones at once (treating what follows as silence), so that after a flush exactly as
many samples came out as went in. ``np.convolve`` does the work, cheaply next to the VAD it
feeds (its cost: docs/performance.md, "Small costs").
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

from ..vocabulary import SAMPLE_RATE, Pcm

__all__ = ["CUTOFF_HZ", "DELAY", "TAPS", "HighPass"]

CUTOFF_HZ = 100.0
TAPS = 255  # odd: a whole-sample centre; −6 dB at the cut-off, ~25 dB down at 50 Hz
DELAY = (TAPS - 1) // 2


@cache
def _taps() -> npt.NDArray[np.float64]:
    n = np.arange(TAPS) - DELAY
    cutoff = 2 * CUTOFF_HZ / SAMPLE_RATE  # as a fraction of the sampling frequency
    low: npt.NDArray[np.float64] = cutoff * np.sinc(cutoff * n) * np.kaiser(TAPS, 8.0)
    low /= low.sum()  # unity gain at 0 Hz, so the high-pass removes DC exactly
    high = -low
    high[DELAY] += 1.0
    return high


class HighPass:
    """One channel's filter state: the last ``TAPS - 1`` input samples."""

    def __init__(self) -> None:
        self._history = np.zeros(TAPS - 1, dtype=np.float64)
        self._lag = DELAY  # outputs owed: inputs received whose centred output is not out yet

    def process(self, pcm: Pcm) -> Pcm:
        """Filter ``pcm``; returns as many samples as are ready (the stream's next ones)."""
        if pcm.shape[0] == 0:
            return np.zeros(0, dtype=np.int16)
        signal = np.concatenate([self._history, pcm.astype(np.float64)])
        out = np.convolve(signal, _taps(), mode="valid")  # one output per new input sample
        self._history = signal[-(TAPS - 1) :]
        skip = min(self._lag, out.shape[0])  # outputs centred before the stream's start, or already flushed
        self._lag -= skip
        return self._to_pcm(out[skip:])

    def flush(self) -> Pcm:
        """The outputs still owed, computed as if silence followed; the stream is then even."""
        owed = DELAY - self._lag
        self._lag = DELAY  # the next process() call re-computes these positions: skip them
        if owed <= 0:
            return np.zeros(0, dtype=np.int16)
        signal = np.concatenate([self._history, np.zeros(DELAY)])
        out = np.convolve(signal, _taps(), mode="valid")
        return self._to_pcm(out[DELAY - owed :])

    @staticmethod
    def _to_pcm(values: npt.NDArray[np.float64]) -> Pcm:
        return np.clip(np.rint(values), -32768, 32767).astype(np.int16)
