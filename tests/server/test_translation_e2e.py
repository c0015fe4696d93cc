"""Per-call translation through the real server, with Gemini's official SDK against the local fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from connector.config import Settings
from connector.testing.recording import RecordingObserver
from connector.testing.server import TEST_SECRET, StartServer, assert_nothing_left
from connector.wiring import translation_parts
from tests.cloud.fake_gemini import FakeGemini, fake_translation
from tests.rawclient import MONO_EXT, RawClient, connect, silence, tone


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


def translating_env(gemini: FakeGemini, **extra: str) -> dict[str, str]:
    return {"GEMINI_API_KEY": gemini.api_key, "GEMINI_BASE_URL": gemini.http.url, "GEMINI_TIMEOUT_S": "5", **extra}


TRANSLATED = {"enableTranslation": True, "inputLanguage": "es-ES"}


async def until(client: RawClient, *, finals: int = 0, partials: int = 0) -> None:
    """Read the server's messages until this many finals and partials have arrived in all."""
    while len(client.transcripts(final=True)) < finals or len(client.transcripts(final=False)) < partials:
        await client.next(limit=10)


def text_and_language(final: dict[str, Any]) -> tuple[str, list[str]]:
    alternative = final["alternatives"][0]
    return alternative["interpretations"][0]["transcript"], alternative["languages"]


async def test_update_changes_the_target_language_mid_call(start_server: StartServer, gemini: FakeGemini) -> None:
    """Finals before ``update`` in the old target, after it in the new one; back to the source: untranslated."""
    parts = translation_parts(Settings(allow_anonymous=True), translating_env(gemini))
    running = await start_server(server_kwargs=vars(parts))
    segment = np.concatenate([silence(0.2), tone(0.5), silence(0.5)])
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], language="en-US", custom=TRANSLATED)
        await client.audio(segment)
        await until(client, finals=1)
        await client.send("update", {"language": "de-DE"})
        await client.expect("updated")
        await client.audio(segment)
        await until(client, finals=2)
        await client.send("update", {"language": "es-ES"})  # the spoken language: nothing to translate
        await client.expect("updated")
        await client.audio(segment)
        await client.close()
    assert [spec.language for spec in running.engine.created] == ["es-ES", "es-ES", "es-ES"]
    assert [text_and_language(f) for f in client.transcripts(final=True)] == [
        (fake_translation("segment 0", "en-US"), ["en-US"]),
        (fake_translation("segment 0", "de-DE"), ["de-DE"]),
        ("segment 0", ["es-ES"]),
    ]
    assert [request["payload"]["target_language"] for request in gemini.requests] == ["en-US", "de-DE"]
    await assert_nothing_left(running)


async def test_finals_stay_in_call_order_across_an_update_while_a_translation_is_pending(
    start_server: StartServer, gemini: FakeGemini
) -> None:
    """The stopped recognizer's final still waits for its translation (here: until it times out
    and falls back to the source text) while the new recognizer's final needs none: it must not
    overtake. Finals reach the client in the order they were spoken."""
    gemini.hang_text = "segment 0"  # the first final's translation never answers
    env = translating_env(gemini, TRANSLATION_TIMEOUT_S="1.5")
    parts = translation_parts(Settings(allow_anonymous=True), env)
    running = await start_server(server_kwargs=vars(parts))
    segment = np.concatenate([silence(0.2), tone(0.5), silence(0.5)])
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], language="en-US", custom=TRANSLATED)
        await client.audio(segment)
        await client.send("update", {"language": "es-ES"})  # the spoken language: nothing to translate
        await client.expect("updated")
        await client.audio(segment)
        await until(client, finals=2)
        await client.close()
    finals = client.transcripts(final=True)
    assert [f["offset"] for f in finals] == ["PT0.2S", "PT1.4S"]  # spoken order, not translation order
    assert [text_and_language(f) for f in finals] == [("segment 0", ["es-ES"]), ("segment 0", ["es-ES"])]
    await assert_nothing_left(running)


@pytest.mark.parametrize("policy", ["source", "drop"])
async def test_partials_while_translating(start_server: StartServer, gemini: FakeGemini, policy: str) -> None:
    """``TRANSLATION_PARTIALS=source``: partials pass untranslated, before their translated final, same id;
    ``drop`` (the default): none are sent. Partials are never sent to the translator. (A partial whose
    final overtakes it while an earlier final is being translated is dropped: each segment here waits
    for the previous final, so both partials are due.)"""
    parts = translation_parts(Settings(allow_anonymous=True), translating_env(gemini, TRANSLATION_PARTIALS=policy))
    observer = RecordingObserver()
    running = await start_server(server_kwargs={**vars(parts), "observer": observer})
    passing = policy == "source"
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], language="en-US", custom={**TRANSLATED, "partialResults": True})
        for n in (1, 2):
            await client.audio(np.concatenate([silence(0.2), tone(1.0)]))  # still speaking: a partial is due
            if passing:
                await until(client, partials=n)
            await client.audio(silence(0.5))
            await until(client, finals=n)
        await client.close()
    transcripts = client.transcripts()
    finals = [t for t in transcripts if t["isFinal"]]
    assert [text_and_language(f) for f in finals] == [
        (fake_translation("segment 0", "en-US"), ["en-US"]),
        (fake_translation("segment 1", "en-US"), ["en-US"]),
    ]
    partials = [t for t in transcripts if not t["isFinal"]]
    if passing:
        assert [text_and_language(p) for p in partials] == [("segment 0", ["es-ES"]), ("segment 1", ["es-ES"])]
        for partial, final in zip(partials, finals, strict=True):
            assert partial["id"] == final["id"]
            assert transcripts.index(partial) < transcripts.index(final)
        assert observer.translations["partials_passed"] == 2
    else:
        assert partials == []
        assert observer.translations["partials_dropped"] == 2
    assert [request["payload"]["text"] for request in gemini.requests] == ["segment 0", "segment 1"]
    await assert_nothing_left(running)


async def test_a_failing_translation_reaches_the_call_as_its_source_text(
    start_server: StartServer, gemini: FakeGemini
) -> None:
    gemini.outputs = ["Here you go: segment zero"]  # the first answer is not the requested JSON
    observer = RecordingObserver()
    parts = translation_parts(Settings(allow_anonymous=True), translating_env(gemini))
    running = await start_server(server_kwargs={**vars(parts), "observer": observer})
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT], language="en-US", custom=TRANSLATED)
        await client.audio(np.concatenate([silence(0.2), tone(0.5), silence(0.5), tone(0.5), silence(0.5)]))
        await client.close()
    assert [text_and_language(f) for f in client.transcripts(final=True)] == [
        ("segment 0", ["es-ES"]),
        (fake_translation("segment 1", "en-US"), ["en-US"]),
    ]
    assert observer.translations["errors"] == 1 and observer.translations["fallbacks"] == 1
    (report,) = observer.reports
    assert (report.translation.translated, report.translation.errors) == (1, 1)
    await assert_nothing_left(running)
