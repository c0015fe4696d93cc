"""Loader for the real-speech regression set: the repository's ``tests/realspeech/`` (``bench/realspeech_build.py``).

Each :class:`Channel` is one 8 kHz mono G.711 µ-law recording of one speaker (a "call channel"),
decoded to int16 with the connector's own codec, and the utterances said in it with their
reference text and where their speech starts and ends (seconds). Sources, licences and the
rules used are in ``tests/realspeech/manifest.json`` and ``LICENSES.md``.

The data is not part of the installed package: every function takes the set's directory
(``set_dir``); without one it is the repository's ``tests/realspeech/`` (:func:`default_set_dir`),
and a clear :class:`FileNotFoundError` says so when that is absent (an installed connector).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from connector.audio import decode_ulaw
from connector.vocabulary import SAMPLE_RATE

REPO_SET_DIR = Path(__file__).resolve().parents[2] / "tests" / "realspeech"
"""Where the set lives in a checkout of the repository."""
MANIFEST_NAME = "manifest.json"
RATE = SAMPLE_RATE
WAVE_FORMAT_MULAW = 7


@dataclass(frozen=True)
class Utterance:
    text: str
    start: float  # seconds: first speech sample
    end: float  # seconds: last speech sample


@dataclass(frozen=True)
class Channel:
    id: str
    pcm: npt.NDArray[np.int16]
    utterances: tuple[Utterance, ...]
    speakers: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return int(self.pcm.shape[0]) / RATE


@dataclass(frozen=True)
class WavInfo:
    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    data: bytes


def read_wav(path: Path) -> WavInfo:
    """Parse a RIFF/WAVE file's ``fmt `` and ``data`` chunks (the stdlib ``wave`` reads PCM only)."""
    raw = path.read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos = 12
    fmt: bytes | None = None
    data: bytes | None = None
    while pos + 8 <= len(raw):
        tag, size = raw[pos : pos + 4], int.from_bytes(raw[pos + 4 : pos + 8], "little")
        body = raw[pos + 8 : pos + 8 + size]
        if tag == b"fmt ":
            fmt = body
        elif tag == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None or len(fmt) < 16:
        raise ValueError(f"{path}: no fmt or data chunk")
    return WavInfo(
        format_tag=int.from_bytes(fmt[0:2], "little"),
        channels=int.from_bytes(fmt[2:4], "little"),
        sample_rate=int.from_bytes(fmt[4:8], "little"),
        bits=int.from_bytes(fmt[14:16], "little"),
        data=data,
    )


def default_set_dir() -> Path:
    """The repository's ``tests/realspeech/``, or a :class:`FileNotFoundError` saying how to point elsewhere."""
    if (REPO_SET_DIR / MANIFEST_NAME).is_file():
        return REPO_SET_DIR
    raise FileNotFoundError(
        f"the real-speech set is not at {REPO_SET_DIR} (it ships with the repository, not the package): "
        "pass set_dir=<directory holding manifest.json>, or rebuild it with bench/realspeech_build.py --out DIR"
    )


def load_manifest(set_dir: Path | None = None) -> dict[str, object]:
    """The set's ``manifest.json`` (``set_dir`` defaults to :func:`default_set_dir`)."""
    directory = set_dir if set_dir is not None else default_set_dir()
    loaded: dict[str, object] = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    return loaded


def load_set(set_dir: Path | None = None) -> list[Channel]:
    """Every channel of the set in ``set_dir`` (default :func:`default_set_dir`), in manifest order."""
    directory = set_dir if set_dir is not None else default_set_dir()
    channels: list[Channel] = []
    files: list[dict[str, object]] = load_manifest(directory)["files"]  # type: ignore[assignment]
    for entry in files:
        info = read_wav(directory / str(entry["file"]))
        if (info.format_tag, info.channels, info.sample_rate, info.bits) != (WAVE_FORMAT_MULAW, 1, RATE, 8):
            raise ValueError(f"{entry['file']}: not 8 kHz mono 8-bit mu-law")
        utterances: list[dict[str, object]] = entry["utterances"]  # type: ignore[assignment]
        speakers: list[dict[str, object]] = entry["speakers"]  # type: ignore[assignment]
        channels.append(
            Channel(
                id=str(entry["id"]),
                pcm=decode_ulaw(info.data),
                utterances=tuple(
                    Utterance(text=str(u["text"]), start=float(u["start"]), end=float(u["end"]))  # type: ignore[arg-type]
                    for u in utterances
                ),
                speakers=tuple(str(s["name"]) for s in speakers),
            )
        )
    return channels
