"""The streaming high-pass filter: no timeline shift, the same output however the stream is cut,
speech band kept, rumble removed."""

from __future__ import annotations

import numpy as np
import pytest

from connector.audio.highpass import DELAY, HighPass
from connector.vocabulary import SAMPLE_RATE

RATE = SAMPLE_RATE


def filtered(pcm: np.ndarray, pieces: int) -> np.ndarray:
    hp = HighPass()
    out = [hp.process(part) for part in np.array_split(pcm, pieces)]
    return np.concatenate([*out, hp.flush()])


def sine(frequency: float, seconds: float = 1.0, level: float = 10000.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * frequency * t) * level).astype(np.int16)


@pytest.mark.parametrize("pieces", [1, 7, 40, 400])
def test_as_many_samples_come_out_as_went_in_whatever_the_chunking(pieces: int) -> None:
    noise = (np.random.default_rng(1).standard_normal(6000) * 3000).astype(np.int16)
    assert np.array_equal(filtered(noise, pieces), filtered(noise, 1))
    assert filtered(noise, pieces).shape == noise.shape


def test_outputs_lag_by_the_look_ahead_until_flushed() -> None:
    hp = HighPass()
    assert hp.process(np.zeros(100, dtype=np.int16)).shape == (0,)
    assert hp.process(np.zeros(100, dtype=np.int16)).shape == (200 - DELAY,)
    assert hp.flush().shape == (DELAY,)
    assert hp.flush().shape == (0,)
    assert hp.process(np.zeros(50, dtype=np.int16)).shape == (0,)  # the look-ahead again, no drift


def test_the_speech_band_passes_in_place_and_rumble_is_removed() -> None:
    voice = sine(1000.0)
    out = filtered(voice, 9)
    assert np.max(np.abs(out[500:-500].astype(int) - voice[500:-500])) <= 2  # no delay, no gain change
    hum = sine(50.0)
    attenuation = 20 * np.log10(np.std(filtered(hum, 3)[1000:-1000]) / np.std(hum[1000:-1000]))
    assert attenuation < -20.0


def test_flush_then_more_audio_continues_the_same_stream() -> None:
    voice = sine(700.0, 0.5)
    hp = HighPass()
    first = np.concatenate([hp.process(voice[:2000]), hp.flush()])
    second = np.concatenate([hp.process(voice[2000:]), hp.flush()])
    assert first.shape == (2000,) and second.shape == (voice.shape[0] - 2000,)
    # Away from the flush point (where silence was assumed), the result is the unbroken stream's.
    whole = filtered(voice, 1)
    assert np.max(np.abs(second[DELAY + 10 :].astype(int) - whole[2000 + DELAY + 10 :])) <= 1


def test_the_endpointer_scores_filtered_audio_and_keeps_the_audio_as_sent() -> None:
    from connector.audio.endpointer import Endpointer

    heard: list[float] = []

    def loudness(window: np.ndarray) -> float:  # "speech" = loud after the prefilter
        level = float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))
        heard.append(level)
        return 1.0 if level > 0.05 else 0.0

    options = {"threshold": 0.5, "end_silence": 0.3, "preroll": 0.0, "max_utterance": 25.0, "min_speech": 0.1}
    rumble = sine(40.0, 3.0, level=12000.0)
    voice = np.concatenate([np.zeros(8000, np.int16), sine(800.0, 1.0, level=6000.0), np.zeros(8000, np.int16)])
    audio = np.clip(rumble.astype(int) + voice, -32768, 32767).astype(np.int16)

    plain = Endpointer(loudness, **options)
    assert [*plain.feed(audio), *plain.cut("end")][0].pcm.shape[0] >= 2.9 * RATE  # rumble = one long "utterance"

    ep = Endpointer(loudness, **options, prefilter=HighPass())
    segments = [s for i in range(0, audio.shape[0], 333) for s in ep.feed(audio[i : i + 333])] + ep.cut("end")
    (segment,) = segments
    assert abs(segment.speech_start - RATE) <= 256 and abs(segment.last_voiced_end - 2 * RATE) <= 256
    assert np.array_equal(segment.pcm, audio[segment.start : segment.end])  # the audio as sent, rumble and all
    assert ep.samples_fed == audio.shape[0]
