"""Per-call translation through the real server, with Gemini's official SDK against the local fake."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from connector.config import Settings
from connector.testing.recording import RecordingObserver
from connector.testing.server import TEST_SECRET, StartServer, assert_nothing_left
from connector.wiring import translation_parts
from tests.cloud.fake_gemini import FakeGemini, fake_translation
from tests.rawclient import MONO_EXT, connect, silence, tone


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    http = fake.start()
    try:
        yield fake
    finally:
        http.release.set()
        http.stop()


async def test_translated_finals_in_order_in_the_target_language(
    start_server: StartServer, gemini: FakeGemini
) -> None:
    env = {"GEMINI_API_KEY": gemini.api_key, "GEMINI_BASE_URL": gemini.http.url, "GEMINI_TIMEOUT_S": "5"}
    parts = translation_parts(Settings(allow_anonymous=True), env)
    observer = RecordingObserver()
    running = await start_server(server_kwargs={**vars(parts), "observer": observer})
    custom = {"enableTranslation": True, "inputLanguage": "es-ES"}
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], language="en-US", custom=custom)
        speech = [silence(0.2), tone(0.5), silence(0.5), tone(0.5), silence(0.5)]
        await client.audio(np.concatenate(speech))
        await client.close()
    # the engine recognised Spanish (the source); transcripts arrive translated into the call's language
    assert [spec.language for spec in running.engine.created] == ["es-ES"]
    finals = client.transcripts(final=True)
    texts = [f["alternatives"][0]["interpretations"][0]["transcript"] for f in finals]
    assert texts == [fake_translation("segment 0", "en-US"), fake_translation("segment 1", "en-US")]
    assert [f["alternatives"][0]["languages"] for f in finals] == [["en-US"], ["en-US"]]
    assert [f["offset"] for f in finals] == ["PT0.2S", "PT1.2S"]
    await assert_nothing_left(running)
    # counted once, seen twice: by the server's observer (``/metrics``) and in the session's report
    assert observer.translations["translated"] == 2 and not observer.translations["fallbacks"]
    (report,) = observer.reports
    assert report.translation.translated == 2 and report.translation.fallbacks == 0
    assert report.transcription.finals == 2 == observer.transcripts[True]


async def test_translation_requested_but_not_configured_is_refused_clearly(start_server: StartServer) -> None:
    parts = translation_parts(Settings(allow_anonymous=True), {})
    running = await start_server(server_kwargs=vars(parts))
    async with connect(running.port, secret=TEST_SECRET) as client:
        reply = await client.open(custom={"enableTranslation": True, "inputLanguage": "es-ES"})
        assert reply["type"] == "disconnect" and "GEMINI_API_KEY" in reply["parameters"]["info"]
        await client.close(reason="disconnect")
