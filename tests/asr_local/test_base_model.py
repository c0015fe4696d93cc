"""The default ``base`` model: reassembled from its two packages, checksummed, multilingual.

One load (~1–2 s) and two short decodes: the only test that pays for ``base``, because it is
the only way to know the two-part package, its SHA-256 check and the language prompt work.
WER bound 0.5: espeak's Spanish at 8 kHz is rough for ``base`` (measured 0.25 and 0.40 on
these sentences); a wrong language prompt or a broken model scores ~1.
"""

from __future__ import annotations

import numpy as np
import pytest
import trio

from connector.asr.base import RecognizerSpec
from connector.asr.local import LocalEngine
from connector.asr.local.models import BASE_SHA256
from connector.testing.speech import silence, synthesize, ulaw_roundtrip, word_error_rate

from .harness import transcribe

pytestmark = pytest.mark.slow



def test_base_is_verified_and_multilingual(base_engine: LocalEngine) -> None:
    model = base_engine.model
    assert model is not None
    assert model.sha256 == BASE_SHA256
    assert len(model.languages) == 99 and "es" in model.languages
    assert base_engine.supports_language("es-MX") and base_engine.supports_language("es-AR")


async def test_base_transcribes_in_the_calls_language(base_engine: LocalEngine) -> None:
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
