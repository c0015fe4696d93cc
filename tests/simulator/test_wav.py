"""WAV reading/writing, resampling and framing of the simulator's audio source."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from connector.audio.codecs import decode_ulaw, encode_ulaw
from connector.simulator import AudioSource, WavError, read_wav, wav_bytes, write_wav
from connector.simulator.wav import parse_wav, resample
from connector.vocabulary import SAMPLE_RATE

RNG = np.random.default_rng(1234)


def _noise(n: int, channels: int) -> np.ndarray:
    return RNG.integers(-20000, 20000, size=(n, channels)).astype(np.int16)


@pytest.mark.parametrize("channels", [1, 2])
def test_pcm16_round_trip_is_exact(tmp_path: Path, channels: int) -> None:
    pcm = _noise(8001, channels)  # odd length: exercises nothing special for PCM16, but keeps sizes honest
    path = tmp_path / "a.wav"
    write_wav(path, pcm if channels == 2 else pcm[:, 0], rate=SAMPLE_RATE, encoding="pcm16")
    wav = read_wav(path)
    assert wav.sample_rate == SAMPLE_RATE
    assert wav.info.format_tag == 1 and wav.info.bits_per_sample == 16
    assert wav.channels == channels
    np.testing.assert_array_equal(wav.samples, pcm)


@pytest.mark.parametrize("channels", [1, 2])
def test_ulaw_round_trip_matches_g711(tmp_path: Path, channels: int) -> None:
    pcm = _noise(4001, channels)  # odd byte count for mono: the data chunk needs a pad byte
    path = tmp_path / "u.wav"
    write_wav(path, pcm, encoding="ulaw")
    data = path.read_bytes()
    assert len(data) % 2 == 0  # RIFF chunks are padded to even sizes
    info, raw = parse_wav(data)
    assert (info.format_tag, info.bits_per_sample, info.channels, info.frames) == (7, 8, channels, 4001)
    assert raw == encode_ulaw(pcm.reshape(-1))  # interleaved exactly as written
    wav = read_wav(path)
    np.testing.assert_array_equal(wav.samples.reshape(-1), decode_ulaw(encode_ulaw(pcm.reshape(-1))))


def test_reads_extra_chunks_and_extensible_format() -> None:
    pcm = _noise(100, 2)
    body = pcm.astype("<i2").tobytes()
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 2, 8000, 32000, 4, 16, 22, 16, 3) + struct.pack("<H", 1) + guid_tail
    chunks = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd size, padded
    chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    wav = read_wav(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    np.testing.assert_array_equal(wav.samples, pcm)


def test_streamed_wav_with_oversized_data_chunk_is_read_to_the_last_whole_frame() -> None:
    data = bytearray(wav_bytes(_noise(50, 2), encoding="pcm16"))
    data_at = data.index(b"data")
    data[data_at + 4 : data_at + 8] = struct.pack("<I", 0xFFFFFFFF)
    info, raw = parse_wav(bytes(data[:-1]))  # and a truncated last frame
    assert info.frames == 49 and len(raw) == 49 * 4


def _header(tag: int = 1, channels: int = 1, bits: int = 16, block: int | None = None) -> bytes:
    block = channels * bits // 8 if block is None else block
    fmt = struct.pack("<HHIIHH", tag, channels, 8000, 8000 * block, block, bits)
    body = b"\x00" * 8
    chunks = b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"RIFX" + b"\x00" * 40, "not a RIFF"),
        (b"RIFF\x00\x00\x00\x00AVI " + b"\x00" * 30, "not WAVE"),
        (b"RIFF\x0c\x00\x00\x00WAVEdata\x00\x00\x00\x00", "no 'fmt '"),
        (_header()[: _header().index(b"data")], "no 'data'"),
        (_header(tag=3, bits=32), "IEEE float"),
        (_header(tag=6, bits=8), "A-law"),
        (_header(tag=7, bits=16), "µ-law WAV with 16 bits"),
        (_header(bits=24), "24 bits"),
        (_header(channels=3), "3 channels"),
        (_header(block=3), "block align"),
    ],
)
def test_header_errors_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(WavError, match=message):
        parse_wav(data)


def test_resample_keeps_frequency_and_level() -> None:
    src_rate = 22050
    t = np.arange(src_rate) / src_rate  # one second
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    hiss = (np.sin(2 * np.pi * 6000 * t) * 10000).astype(np.int16)  # above the new Nyquist
    out = resample(tone + hiss, src_rate, 8000)
    assert len(out) == 8000
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64))) / (len(out) / 2)
    assert int(np.argmax(spectrum)) == 440  # 1 Hz bins
    assert spectrum[440] == pytest.approx(10000, rel=0.02)
    # 6 kHz would alias to 2 kHz; the low-pass must have removed it.
    assert spectrum[2000] < 100


def test_from_wav_resamples_and_places_mono_on_the_chosen_side(tmp_path: Path) -> None:
    path = tmp_path / "wide.wav"
    write_wav(path, np.full(16000, 1000, dtype=np.int16), rate=16000, encoding="pcm16")
    src = AudioSource.from_wav(path, mono_channel="internal")
    assert src.samples == 8000
    assert np.all(src.pcm[:, 0] == 0)
    assert abs(int(np.median(src.pcm[:, 1])) - 1000) <= 2


def test_frames_interleave_in_the_negotiated_order() -> None:
    src = AudioSource.from_pcm(np.full(10, 1000), np.full(10, -1000))
    ext, inn = encode_ulaw([1000]), encode_ulaw([-1000])
    assert src.frame(0, 2, ("external", "internal")) == ext + inn + ext + inn
    assert src.frame(0, 2, ("internal", "external")) == inn + ext + inn + ext
    assert src.frame(4, 7, ("internal",)) == inn * 3
    assert src.frame(0, 1, ("external", "internal"), "L16") == struct.pack("<hh", 1000, -1000)
    assert src.frame(8, 20, ("external",)) == ext * 2  # clipped at the end


def test_mono_source_pads_the_missing_side_with_silence() -> None:
    src = AudioSource.from_pcm(np.ones(5), np.ones(3))
    assert src.samples == 5
    np.testing.assert_array_equal(src.pcm[:, 1], [1, 1, 1, 0, 0])
