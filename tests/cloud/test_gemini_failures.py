"""Gemini's failure branches, through the official ``google-genai`` SDK against the local fake.

Each failure is checked twice: what :meth:`GeminiTranslator.translate` raises (and how many requests
it made), and what a call gets through the session's translation pipeline — the untranslated final
in the source language with the fallback ``source``, nothing with ``skip`` — and how it is counted.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator

import pytest
import trio

from connector.testing.drive import assert_threads_settle
from connector.translate.base import TranslationError
from connector.translate.gemini import GeminiTranslator, GeminiTranslatorFactory
from connector.translate.ordering import Fallback, TranslationCounters
from connector.translate.registry import load_translator
from connector.vocabulary import Hypothesis
from tests.cloud.fake_gemini import FakeGemini, fake_translation
from tests.cloud.test_cloud_translate import final, pipeline


def spoken(u: int, text: str, start: float = 0.0) -> Hypothesis:
    """A final as the engine hears it, in the call's source language."""
    return dataclasses.replace(final(u, text, start), language="es-ES")


@pytest.fixture
async def translator(gemini_server: FakeGemini) -> AsyncIterator[GeminiTranslator]:
    before = set(threading.enumerate())
    env = {"GEMINI_API_KEY": gemini_server.api_key, "GEMINI_BASE_URL": gemini_server.http.url, "GEMINI_TIMEOUT_S": "5"}
    factory = load_translator("gemini", env)
    assert isinstance(factory, GeminiTranslatorFactory)
    await factory.start()
    try:
        yield factory.create({})
    finally:
        await factory.aclose()
    assert_threads_settle(before)


async def translate(translator: GeminiTranslator, text: str = "hola amigo") -> str:
    with trio.fail_after(10):  # retries are bounded: never the pipeline's timeout's job alone
        return await translator.translate(text, "es-ES", "en-US")


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "Request contains an invalid argument.", r"rejected the request \(HTTP 400\)"),
        (404, "models/gemini-9 is not found", r"rejected the request \(HTTP 404\)"),
        (413, "Request payload size exceeds the limit", r"rejected the request \(HTTP 413\)"),
        (400, "API key not valid. Please pass a valid API key.", r"rejected the key \(HTTP 400\).*GEMINI_API_KEY"),
        (403, "Permission denied", r"rejected the key \(HTTP 403\)"),
    ],
)
async def test_a_non_retryable_4xx_fails_at_once(
    gemini_server: FakeGemini, translator: GeminiTranslator, status: int, message: str, expected: str
) -> None:
    gemini_server.errors, gemini_server.error_message = [status], message
    with pytest.raises(TranslationError, match=expected):
        await translate(translator)
    assert len(gemini_server.requests) == 1  # not retried


@pytest.mark.parametrize("statuses", [[503] * 8, [429] * 8, [500, 429, 502, 503, 504]])
async def test_retries_end_after_max_attempts(
    gemini_server: FakeGemini, translator: GeminiTranslator, statuses: list[int]
) -> None:
    gemini_server.errors = list(statuses)
    with pytest.raises(TranslationError, match=r"Gemini failed 4 times \(last: HTTP (5\d\d|429)\)"):
        await translate(translator)
    assert len(gemini_server.requests) == 4


async def test_a_retry_that_succeeds_within_the_attempts_is_a_translation(
    gemini_server: FakeGemini, translator: GeminiTranslator
) -> None:
    gemini_server.errors = [503, 429, 500]
    assert await translate(translator) == fake_translation("hola amigo", "en-US")
    assert len(gemini_server.requests) == 4


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Sure! Here is the translation: hello friend", "something other than the requested JSON"),
        ('{"translation": "hello friend"', "something other than the requested JSON"),
        ("", "something other than the requested JSON"),
        ('{"text": "hello friend"}', "no `translation` string"),
        ('["hello friend"]', "no `translation` string"),
        ('{"translation": 42}', "no `translation` string"),
        ('{"translation": null}', "no `translation` string"),
        ('{"translation": "  "}', "translation is empty"),
    ],
)
async def test_output_that_is_not_a_translation_fails(
    gemini_server: FakeGemini, translator: GeminiTranslator, output: str, expected: str
) -> None:
    gemini_server.outputs = [output]
    with pytest.raises(TranslationError, match=expected):
        await translate(translator)
    assert len(gemini_server.requests) == 1  # a model's bad answer is not retried


@pytest.mark.parametrize("failure", ["4xx", "exhausted", "not json", "no key", "empty"])
@pytest.mark.parametrize("fallback", [Fallback.SOURCE, Fallback.SKIP])
async def test_the_call_gets_the_fallback(
    gemini_server: FakeGemini, translator: GeminiTranslator, failure: str, fallback: Fallback
) -> None:
    """Utterance 1 fails; 0 and 2 are translated; the order holds and the failure is counted as an error."""
    errors = {"4xx": [400], "exhausted": [503] * 4}
    outputs = {"not json": ["hello"], "no key": ['{"text": "x"}'], "empty": ['{"translation": ""}']}
    counters = TranslationCounters()
    items = [spoken(0, "uno"), spoken(1, "dos tres", 1.0), spoken(2, "cuatro", 3.0)]

    class FailSecond:
        """Lets the first request through, then scripts the failure for the second."""

        calls = 0

        async def translate(self, text: str, source: str, target: str) -> str:
            self.calls += 1
            if text == "dos tres":
                gemini_server.errors = list(errors.get(failure, []))
                gemini_server.outputs = list(outputs.get(failure, []))
            return await translator.translate(text, source, target)

    scripted = FailSecond()
    with trio.fail_after(10):
        out = await pipeline(
            scripted, items, counters=counters, source="es-ES", target="en-US", max_concurrency=1, fallback=fallback
        )
    expected: list[tuple[int, str, str]] = [(0, fake_translation("uno", "en-US"), "en-US")]
    if fallback is Fallback.SOURCE:
        expected.append((1, "dos tres", "es-ES"))  # the source text, in the source language
    expected.append((2, fake_translation("cuatro", "en-US"), "en-US"))
    assert [(h.utterance, h.text, h.language) for h in out] == expected
    source = next((h for h in out if h.utterance == 1), None)
    if source is not None:
        assert source == items[1]  # untouched: its words keep their own timings
    assert (counters.translated, counters.errors, counters.fallbacks, counters.timeouts) == (2, 1, 1, 0)
    assert counters.skipped == (fallback is Fallback.SKIP)
    assert scripted.calls == 3
