"""The store and the control API through the real server: calls over real sockets, API over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx2
import numpy as np
import pytest
import trio

from connector.protocol import parse_duration
from connector.testing.server import TEST_SECRET
from connector.testing.stored import StoredServer, start_stored_server
from tests.rawclient import connect, silence, tone


@pytest.fixture
async def stored(url: str) -> AsyncIterator[StoredServer]:
    async with trio.open_nursery() as nursery:
        yield await start_stored_server(nursery, url)
        nursery.cancel_scope.cancel()


@pytest.fixture
async def on_start(url: str) -> AsyncIterator[StoredServer]:
    async with trio.open_nursery() as nursery:
        yield await start_stored_server(nursery, url, transcribe="on-start")
        nursery.cancel_scope.cancel()


def speech(seconds: float = 0.6) -> np.ndarray:
    """A burst the scripted engine makes one utterance of, then enough silence to end it."""
    return np.concatenate([tone(seconds), silence(0.5)])


async def api(stored: StoredServer, method: str, path: str, **kwargs: object) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=stored.api_url, headers=stored.headers, timeout=10) as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_a_calls_transcript_is_retrieved_as_it_was_sent(stored: StoredServer) -> None:
    async with connect(stored.running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.audio(speech(), silence(1.1))
        await client.audio(silence(1.1), speech(0.8))
        await client.close()
    sent = client.transcripts(final=True)
    assert len(sent) == 2
    with trio.fail_after(10):
        await stored.store.writer.wait_idle()
    response = await api(stored, "GET", f"/v1/conversations/{client.conversation_id}")
    assert response.status_code == 200
    body = response.json()
    stored_utterances = body["utterances"]
    assert [u["utteranceId"] for u in stored_utterances] == [t["id"] for t in sent]
    assert [u["role"] for u in stored_utterances] == ["external", "internal"]
    for utterance, final in zip(stored_utterances, sent, strict=True):
        alternative = final["alternatives"][0]
        assert utterance["text"] == alternative["interpretations"][0]["transcript"]
        assert utterance["channel"] == final["channelId"]
        assert utterance["offset"] == pytest.approx(parse_duration(final["offset"]), abs=1e-9)
        assert utterance["duration"] == pytest.approx(parse_duration(final["duration"]), abs=1e-9)
        assert [w["value"] for w in utterance["words"]] == [
            t["value"] for t in alternative["interpretations"][0]["tokens"]
        ]
    (session,) = body["sessions"]
    assert session["outcome"] == "completed"
    assert session["audioSeconds"] == pytest.approx(2.4, abs=0.01)
    assert body["summary"]["transcripts"] == 2


async def test_on_start_transcribes_only_between_start_and_stop_with_exact_offsets(on_start: StoredServer) -> None:
    async with connect(on_start.running.port, secret=TEST_SECRET) as client:
        await client.open()
        cid = client.conversation_id
        await client.audio(speech(), silence(1.1))  # IVR: not transcribed
        started = await api(on_start, "POST", f"/v1/conversations/{cid}/start", json={})
        assert started.status_code == 200 and started.json()["applied"] is True
        assert [c["status"] for c in started.json()["channels"]] == ["transcribing", "transcribing"]
        await client.audio(speech(), silence(1.1))  # transcribed, starting at 1.1 s
        stopped = await api(on_start, "POST", f"/v1/conversations/{cid}/stop", json={"reason": "hold"})
        assert stopped.status_code == 200 and stopped.json()["applied"] is True
        await client.audio(speech(), silence(1.1))  # on hold: not transcribed
        await client.close()
    finals = client.transcripts(final=True)
    assert [(t["channelId"], t["offset"]) for t in finals] == [(0, "PT1.1S")]
    with trio.fail_after(10):
        await on_start.store.writer.wait_idle()
    body = (await api(on_start, "GET", f"/v1/conversations/{cid}")).json()
    assert body["control"]["state"] == "stopped" and body["control"]["version"] == 2
    (session,) = body["sessions"]
    assert session["audioSeconds"] == pytest.approx(3.3, abs=0.01)
    assert session["transcribedSeconds"] == pytest.approx(1.1, abs=0.11)


async def test_a_start_before_the_call_is_remembered(on_start: StoredServer) -> None:
    cid = "2f0a8e47-98c1-4a5d-9b7e-4a3c2b1d0e9f"
    early = await api(on_start, "POST", f"/v1/conversations/{cid}/start", json={"language": "es-ES"})
    assert early.status_code == 200 and early.json()["applied"] is False
    async with connect(on_start.running.port, secret=TEST_SECRET) as client:
        await client.open(conversation_id=cid)
        await client.audio(speech(), silence(0.2))
        await client.close()
    finals = client.transcripts(final=True)
    assert len(finals) == 1
    assert on_start.running.engine.created[-1].language == "es-ES"


async def test_export_of_the_day_streams_every_utterance(stored: StoredServer) -> None:
    conversations = []
    for _ in range(3):
        async with connect(stored.running.port, secret=TEST_SECRET) as client:
            await client.open()
            await client.audio(speech(), speech())
            await client.close()
        conversations.append(client.conversation_id)
    with trio.fail_after(10):
        await stored.store.writer.wait_idle()
    now = datetime.now(UTC)
    params = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(minutes=1)).isoformat()}
    response = await api(stored, "GET", "/v1/export", params={**params, "format": "jsonl"})
    assert response.status_code == 200
    lines = [line for line in response.text.splitlines() if line]
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 6
    assert {row["conversationId"] for row in rows} == set(conversations)
    listing = await api(stored, "GET", "/v1/conversations", params={**params, "limit": 2})
    page = listing.json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    rest = await api(stored, "GET", "/v1/conversations", params={**params, "cursor": page["nextCursor"]})
    ids = [item["conversationId"] for item in page["items"] + rest.json()["items"]]
    assert sorted(ids) == sorted(conversations)


async def test_a_start_this_server_cannot_serve_is_refused_before_it_is_stored(stored: StoredServer) -> None:
    cid = "8d3c1f0e-5b2a-4e69-9f7d-1a2b3c4d5e6f"
    unknown = await api(stored, "POST", f"/v1/conversations/{cid}/start", json={"engine": "nope"})
    assert unknown.status_code == 422 and unknown.json()["error"] == "invalid_request"
    assert "nope" in unknown.json()["info"]
    language = await api(stored, "POST", f"/v1/conversations/{cid}/start", json={"language": "de-DE"})
    assert language.status_code == 422 and "de-DE" in language.json()["info"]
    assert (await api(stored, "GET", f"/v1/conversations/{cid}")).status_code == 404  # nothing was stored
