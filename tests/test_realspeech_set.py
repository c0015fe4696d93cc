"""The real-speech regression set (tests/realspeech/) is intact: files, format, timings, hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from connector.testing.realspeech import RATE, WAVE_FORMAT_MULAW, default_set_dir, load_manifest, load_set, read_wav


def _files() -> list[dict[str, object]]:
    files: list[dict[str, object]] = load_manifest()["files"]  # type: ignore[assignment]
    return files


def test_every_file_exists_and_is_8k_mono_ulaw() -> None:
    files = _files()
    assert files
    for entry in files:
        path = default_set_dir() / str(entry["file"])
        assert path.is_file(), path
        info = read_wav(path)
        assert (info.format_tag, info.channels, info.sample_rate, info.bits) == (WAVE_FORMAT_MULAW, 1, RATE, 8), path
        assert len(info.data) > RATE, path


def test_wav_hashes_match_the_manifest() -> None:
    for entry in _files():
        digest = hashlib.sha256((default_set_dir() / str(entry["file"])).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{entry['file']} changed: rebuild with bench/realspeech_build.py"


def test_utterances_are_ordered_non_overlapping_and_inside_the_file() -> None:
    for channel in load_set():
        assert channel.utterances, channel.id
        previous_end = 0.0
        for utt in channel.utterances:
            assert utt.text.strip()
            assert 0.0 < utt.start < utt.end <= channel.seconds, (channel.id, utt)
            assert utt.start > previous_end, (channel.id, utt)
            previous_end = utt.end
        # the speech is really there: louder inside the utterances than in the lead-in silence
        lead = channel.pcm[: int(channel.utterances[0].start * RATE) - 800].astype(np.float64)
        first = channel.utterances[0]
        speech = channel.pcm[int(first.start * RATE) : int(first.end * RATE)].astype(np.float64)
        assert np.sqrt(np.mean(speech**2)) > 10 * (np.sqrt(np.mean(lead**2)) + 1.0), channel.id


def test_set_is_large_enough_and_has_sources() -> None:
    manifest = load_manifest()
    words = sum(len(u.text.split()) for c in load_set() for u in c.utterances)
    assert words >= 350
    assert words == manifest["total_words"]
    speakers = {str(s["name"]) for f in _files() for s in f["speakers"]}  # type: ignore[attr-defined]
    assert len(speakers) >= 5
    for entry in _files():
        for utt in entry["utterances"]:  # type: ignore[attr-defined]
            source = utt["source"]
            assert "==" in source["package"]
            assert len(source["sha256"]) == 64
            assert source["licence"] and source["attribution"]


def test_the_loader_takes_the_set_directory_and_says_when_it_is_missing(tmp_path: Path) -> None:
    assert [c.id for c in load_set(default_set_dir())] == [c.id for c in load_set()]
    with pytest.raises(FileNotFoundError):
        load_set(tmp_path)
