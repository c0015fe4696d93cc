"""Translation: the ordered pipeline (virtual clock) and Gemini through ``google-genai`` against a fake."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import trio

from connector.testing.drive import assert_threads_settle
from connector.translate.base import TranslationError, TranslatorConfigError
from connector.translate.gemini import GeminiTranslatorFactory
from connector.translate.ordering import (
    CallTranslation,
    Fallback,
    PartialPolicy,
    PipelineSettings,
    TranslationCounters,
    translate_in_order,
)
from connector.translate.registry import load_translator
from connector.vocabulary import Hypothesis, Word
from tests.cloud.fake_gemini import FakeGemini, fake_translation


def final(u: int, text: str, start: float = 0.0) -> Hypothesis:
    words = [Word(w, start + i * 0.3, 0.25, 0.9) for i, w in enumerate(text.split())]
    return Hypothesis(u, text, True, start, 0.3 * len(words), 0.9, words, "en-US")


def partial(u: int, text: str) -> Hypothesis:
    return Hypothesis(u, text, False, 0.0, 1.0, 0.5, (), "en-US")


class ScriptedTranslator:
    """Takes ``delays[text]`` seconds (virtual clock) and fails for texts in ``failing``."""

    def __init__(self, delays: dict[str, float] | None = None, failing: Sequence[str] = ()) -> None:
        self.delays = delays or {}
        self.failing = set(failing)
        self.calls: list[str] = []
        self.active = 0
        self.max_active = 0

    async def translate(self, text: str, source_language: str, target_language: str) -> str:
        self.calls.append(text)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await trio.sleep(self.delays.get(text, 0.1))
            if text in self.failing:
                raise TranslationError("scripted")
            return fake_translation(text, target_language)
        finally:
            self.active -= 1


async def pipeline(
    translator: Any, items: Sequence[Hypothesis], *, counters: TranslationCounters | None = None, **kwargs: Any
) -> list[Hypothesis]:
    inbox_tx, inbox_rx = trio.open_memory_channel[Hypothesis](100)
    outbox_tx, outbox_rx = trio.open_memory_channel[Hypothesis](100)
    options: dict[str, Any] = {"source": "en-US", "target": "fr-FR", "utterance_timeout": 5.0}
    options.update(kwargs)
    async with inbox_tx:
        for item in items:
            inbox_tx.send_nowait(item)
    await translate_in_order(translator, inbox_rx, outbox_tx, counters=counters, **options)
    return [h async for h in outbox_rx]  # the pipeline closed outbox: this ends


async def test_finals_run_concurrently_and_come_out_in_order(autojump_clock: Any) -> None:
    translator = ScriptedTranslator({"a b": 2.0, "c": 0.5, "d e f": 1.0})
    start = trio.current_time()
    out = await pipeline(translator, [final(0, "a b", 1.0), final(1, "c", 3.0), final(2, "d e f", 5.0)])
    assert [h.utterance for h in out] == [0, 1, 2]
    assert [h.text for h in out] == ["a-fr b-fr fin", "c-fr fin", "d-fr e-fr f-fr fin"]
    assert trio.current_time() - start == pytest.approx(2.0)  # concurrent, not 3.5 s
    first = out[0]
    assert first.language == "fr-FR" and first.timing == "spread"
    assert [w.value for w in first.words] == ["a-fr", "b-fr", "fin"]
    assert first.words[0].start == pytest.approx(1.0)
    last = first.words[-1]
    assert last.start + last.duration == pytest.approx(first.start + first.duration)


async def test_timeout_falls_back_to_source_text(autojump_clock: Any) -> None:
    counters = TranslationCounters()
    translator = ScriptedTranslator({"slow": 60.0})
    out = await pipeline(
        translator, [final(0, "a"), final(1, "slow"), final(2, "b")], counters=counters, utterance_timeout=3.0
    )
    assert [(h.utterance, h.text, h.language) for h in out] == [
        (0, "a-fr fin", "fr-FR"),
        (1, "slow", "en-US"),
        (2, "b-fr fin", "fr-FR"),
    ]
    assert (counters.translated, counters.timeouts, counters.fallbacks, counters.skipped) == (2, 1, 1, 0)


async def test_skip_fallback_and_errors_are_counted(autojump_clock: Any) -> None:
    counters = TranslationCounters()
    translator = ScriptedTranslator({"slow": 60.0}, failing=["bad"])
    items = [final(0, "a"), final(1, "slow"), final(2, "bad"), final(3, "b")]
    out = await pipeline(translator, items, counters=counters, utterance_timeout=3.0, fallback=Fallback.SKIP)
    assert [h.utterance for h in out] == [0, 3]
    assert (counters.timeouts, counters.errors, counters.fallbacks, counters.skipped) == (1, 1, 2, 2)


async def test_concurrency_is_bounded_and_deadline_counts_from_arrival(autojump_clock: Any) -> None:
    counters = TranslationCounters()
    translator = ScriptedTranslator({"a": 2.0, "b": 2.0, "c": 2.0})
    out = await pipeline(
        translator, [final(0, "a"), final(1, "b"), final(2, "c")], counters=counters,
        max_concurrency=1, utterance_timeout=5.0,
    )  # fmt: skip
    assert translator.max_active == 1
    # "c" waited 4 s for its turn, so only 1 s of its 5 s budget was left: it falls back.
    assert [h.text for h in out] == ["a-fr fin", "b-fr fin", "c"]
    assert counters.timeouts == 1


async def test_partials_dropped_by_default(autojump_clock: Any) -> None:
    counters = TranslationCounters()
    translator = ScriptedTranslator()
    out = await pipeline(translator, [partial(0, "a"), final(0, "a b")], counters=counters)
    assert [h.is_final for h in out] == [True]
    assert translator.calls == ["a b"] and counters.partials_dropped == 1


async def test_passed_partials_never_overtake_and_stale_ones_are_dropped(autojump_clock: Any) -> None:
    counters = TranslationCounters()
    translator = ScriptedTranslator({"a": 2.0})
    items = [final(0, "a"), partial(1, "b"), partial(1, "b c"), partial(2, "x")]
    out = await pipeline(translator, items, counters=counters, partials=PartialPolicy.SOURCE)
    got = [(h.utterance, h.is_final, h.text) for h in out]
    assert got == [(0, True, "a-fr fin"), (1, False, "b c"), (2, False, "x")]
    assert translator.calls == ["a"]  # partials are never translated
    assert (counters.partials_passed, counters.partials_dropped) == (2, 1)


async def test_same_language_passes_through(autojump_clock: Any) -> None:
    counters = TranslationCounters()
    translator = ScriptedTranslator()
    out = await pipeline(translator, [final(0, "hello")], counters=counters, target="en-GB")
    assert out == [final(0, "hello")] and translator.calls == [] and counters.unchanged == 1


def test_call_and_pipeline_settings() -> None:
    assert CallTranslation.from_custom_config({}) == CallTranslation(False, None)
    assert CallTranslation.from_custom_config({"enableTranslation": True, "inputLanguage": "es-ES"}).source == "es-ES"
    with pytest.raises(TranslatorConfigError, match="enableTranslation"):
        CallTranslation.from_custom_config({"enableTranslation": "yes"})
    settings = PipelineSettings.from_env({"TRANSLATION_FALLBACK": "skip", "TRANSLATION_TIMEOUT_S": "1.5"})
    assert settings.fallback is Fallback.SKIP and settings.timeout == 1.5
    with pytest.raises(TranslatorConfigError, match="TRANSLATION_PARTIALS"):
        PipelineSettings.from_env({"TRANSLATION_PARTIALS": "translate"})


# -- Gemini through google-genai against the fake ---------------------------------------------


@pytest.fixture
async def gemini(gemini_server: FakeGemini) -> AsyncIterator[Any]:
    before = set(threading.enumerate())
    factories: list[GeminiTranslatorFactory] = []

    async def make(**extra: str) -> GeminiTranslatorFactory:
        env = {
            "GEMINI_API_KEY": gemini_server.api_key,
            "GEMINI_BASE_URL": gemini_server.http.url,
            "GEMINI_TIMEOUT_S": "5",
        }
        env.update(extra)
        factory = load_translator("gemini", env)
        assert isinstance(factory, GeminiTranslatorFactory)
        await factory.start()
        factories.append(factory)
        return factory

    yield make
    for factory in factories:
        await factory.aclose()
    assert_threads_settle(before)


async def test_gemini_returns_only_the_translation(gemini_server: FakeGemini, gemini: Any) -> None:
    factory = await gemini()
    factory.check({"translationModel": "gemini-2.5-flash-lite"})
    translator = factory.create({"translationModel": "gemini-2.5-flash-lite"})
    assert await translator.translate("bonjour tout", "fr-FR", "de-DE") == "bonjour-de tout-de fin"
    request = gemini_server.requests[0]
    assert request["model"] == "gemini-2.5-flash-lite"
    assert request["payload"] == {"source_language": "fr-FR", "target_language": "de-DE", "text": "bonjour tout"}
    config = request["body"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert schema["required"] == ["translation"] and schema["properties"]["translation"]["type"] == "STRING"
    assert "Return only the translation" in request["body"]["systemInstruction"]["parts"][0]["text"]


async def test_gemini_pipeline_keeps_order_and_falls_back_on_a_hung_request(
    gemini_server: FakeGemini, gemini: Any
) -> None:
    gemini_server.hold_text = "first"  # the first answer waits until the last is answered
    gemini_server.hold_until = "last"
    gemini_server.hang_text = "stuck"
    factory = await gemini()
    counters = TranslationCounters()
    items = [final(0, "first one"), final(1, "second"), final(2, "stuck here"), final(3, "last")]
    with trio.fail_after(10):
        out = await pipeline(factory.create({}), items, counters=counters, utterance_timeout=1.5)
    assert [(h.utterance, h.text) for h in out] == [
        (0, "first-fr one-fr fin"),
        (1, "second-fr fin"),
        (2, "stuck here"),
        (3, "last-fr fin"),
    ]
    assert gemini_server.answered.index("first one") > gemini_server.answered.index("last")  # answered out of order
    assert (counters.translated, counters.timeouts, counters.fallbacks) == (3, 1, 1)


async def test_gemini_retries_429_and_5xx(gemini_server: FakeGemini, gemini: Any) -> None:
    gemini_server.errors = [429, 503]
    factory = await gemini()
    with trio.fail_after(10):
        assert await factory.create({}).translate("hola", "es-ES", "en-US") == "hola-en fin"
    assert len(gemini_server.requests) == 3


async def test_gemini_reports_what_to_fix(gemini_server: FakeGemini, gemini: Any) -> None:
    wrong = await gemini(GEMINI_API_KEY="not-the-key")
    with pytest.raises(TranslatorConfigError, match="rejected GEMINI_API_KEY"):
        wrong.check({})
    missing = await gemini(GEMINI_API_KEY="")
    with pytest.raises(TranslatorConfigError, match="GEMINI_API_KEY"):
        missing.check({})
    good = await gemini(GEMINI_MODELS="gemini-2.5-flash gemini-2.5-pro")
    with pytest.raises(TranslatorConfigError, match=r"translationModel='gpt-4o'.*gemini-2.5-pro"):
        good.check({"translationModel": "gpt-4o"})
    with pytest.raises(TranslatorConfigError, match="unknown translator"):
        load_translator("deepl", {})
