"""8 kHz telephone audio → Whisper's log-mel spectrogram, in numpy.

Whisper was trained on 16 kHz log-mel frames (25 ms Hann window, 10 ms hop, 80 or 128 Slaney mel
bands, log10 clamped to 8 decades below the peak, then scaled to roughly [-1, 1]). Telephone
audio has nothing above 4 kHz, so upsampling by two with a windowed-sinc half-band filter is
exact enough and keeps the upper mel bands near-silent, as in the narrow-band speech Whisper
has already seen. Everything here is pure numpy so the engine has no torch/librosa dependency.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

__all__ = [
    "FRAMES_PER_SECOND",
    "HOP_LENGTH",
    "MODEL_RATE",
    "log_mel",
    "mel_filters",
    "upsample_8k_to_16k",
]

MODEL_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
FRAMES_PER_SECOND = MODEL_RATE // HOP_LENGTH  # 100 mel frames per second
_HALF_TAPS = 16  # one side of the odd-phase interpolation filter (32 taps in all)

F32 = npt.NDArray[np.float32]


@cache
def _odd_phase_filter() -> F32:
    """The odd phase of a Kaiser-windowed sinc half-band filter (the even phase is the identity)."""
    # Odd output sample 2n+1 sits half-way between inputs n and n+1: taps at offsets k + 0.5.
    offsets = np.arange(-_HALF_TAPS + 1, _HALF_TAPS + 1, dtype=np.float64) - 0.5
    window = np.kaiser(2 * _HALF_TAPS, 8.0)
    taps = np.sinc(offsets) * window
    taps /= taps.sum()
    return taps[::-1].astype(np.float32)


def upsample_8k_to_16k(pcm: npt.NDArray[np.int16] | F32) -> F32:
    """Upsample 8 kHz samples to 16 kHz floats in [-1, 1] (same duration, twice the samples)."""
    x = np.asarray(pcm, dtype=np.float32)
    if np.asarray(pcm).dtype == np.int16:
        x = x / 32768.0
    n = x.shape[0]
    out = np.empty(2 * n, dtype=np.float32)
    out[0::2] = x
    if n == 0:
        return out
    padded = np.pad(x, (_HALF_TAPS - 1, _HALF_TAPS), mode="constant")
    out[1::2] = np.convolve(padded, _odd_phase_filter(), mode="valid")[:n]
    return out


@cache
def mel_filters(n_mels: int) -> F32:
    """Slaney-style mel filterbank (as librosa's default) for a 400-point FFT at 16 kHz."""
    fft_freqs = np.fft.rfftfreq(N_FFT, d=1.0 / MODEL_RATE)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    max_mel = min_log_mel + np.log(MODEL_RATE / 2 / min_log_hz) / logstep
    mels = np.linspace(0.0, max_mel, n_mels + 2)
    freqs = f_sp * mels
    log_region = mels >= min_log_mel
    freqs[log_region] = min_log_hz * np.exp(logstep * (mels[log_region] - min_log_mel))
    fdiff = np.diff(freqs)
    ramps = freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2 : n_mels + 2] - freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


@cache
def _hann() -> F32:
    return np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def log_mel(audio_16k: F32, n_mels: int, pad_to_seconds: float = 0.0) -> F32:
    """Whisper's normalised log-mel spectrogram, shape ``[n_mels, frames]`` (100 frames/s).

    ``pad_to_seconds`` appends digital silence first, as Whisper pads to its 30 s window: the
    decoder behaves far better on a short utterance followed by silence than on a bare clip.
    The frame count is rounded up to an even number because the encoder halves it.
    """
    target = round(pad_to_seconds * MODEL_RATE)
    if audio_16k.shape[0] < target:
        audio_16k = np.pad(audio_16k, (0, target - audio_16k.shape[0]))
    n_frames = audio_16k.shape[0] // HOP_LENGTH
    n_frames += n_frames % 2
    n_frames = max(n_frames, 2)
    # Centre the windows (reflect padding) like torch.stft(center=True), then keep n_frames.
    half = N_FFT // 2
    needed = (n_frames - 1) * HOP_LENGTH + N_FFT
    padded = np.pad(audio_16k, (half, 0), mode="reflect" if audio_16k.shape[0] > half else "constant")
    if padded.shape[0] < needed:
        tail = needed - padded.shape[0]
        padded = np.pad(padded, (0, tail), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded[:needed], N_FFT)[::HOP_LENGTH]
    spectrum = np.fft.rfft(frames * _hann(), axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = mel_filters(n_mels) @ power.T
    log_spec: F32 = np.log10(np.maximum(mel, 1e-10)).astype(np.float32)
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    out: F32 = ((log_spec + 4.0) / 4.0).astype(np.float32)
    return out
