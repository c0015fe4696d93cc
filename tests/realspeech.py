"""Loader for the real-speech regression set in ``tests/realspeech/`` (built by ``bench/realspeech_build.py``).

Each :class:`Channel` is one 8 kHz mono G.711 µ-law recording of one speaker (a "call channel"),
decoded to int16 with the connector's own codec, and the utterances said in it with their
reference text and where their speech starts and ends (seconds). Sources, licences and the
rules used are in ``tests/realspeech/manifest.json`` and ``LICENSES.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from connector.audio import decode_ulaw
from connector.vocabulary import SAMPLE_RATE

SET_DIR = Path(__file__).parent / "realspeech"
MANIFEST = SET_DIR / "manifest.json"
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


def load_manifest() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def load_set() -> list[Channel]:
    """Every channel of the set, in manifest order."""
    channels: list[Channel] = []
    files: list[dict[str, object]] = load_manifest()["files"]  # type: ignore[assignment]
    for entry in files:
        info = read_wav(SET_DIR / str(entry["file"]))
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
