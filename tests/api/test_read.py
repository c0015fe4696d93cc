"""Reading back what the real database holds: one conversation in spoken order, the paged list,
and the health route."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import trio

from connector.store import Database
from tests.api.kit import BOTH, CID, READ, T0, Api, at, bearer, session, translated, utterance


async def test_a_conversation_with_its_sessions_and_utterances_in_order(api: Api, database: Database) -> None:
    first = session("s1", ended_at=at(40), outcome="completed", transcribing=False)
    second = session("s2", started_at=at(60), channels=("external",), transcripts=1)
    database.write(
        [first, second],
        [
            utterance("u3", "s2", offset=0.5, sent_at=at(61)),
            utterance("u2", "s1", offset=9.0, channel=1, role="internal", sent_at=at(12)),
            translated(utterance("u1", "s1", offset=1.5)),
        ],
    )
    with trio.fail_after(10):
        response = await api.client.get(f"/v1/conversations/{CID}", headers=bearer(READ))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conversationId"] == CID and body["control"] is None and body["live"] is True
    assert body["channels"] == [{"channel": 0, "role": "external", "status": "transcribing"}]
    assert body["summary"] == {"audioSeconds": 61.0, "transcribedSeconds": 56.5, "transcripts": 3, "sessions": 2}
    assert [s["sessionId"] for s in body["sessions"]] == ["s1", "s2"]
    assert body["sessions"][0] == {
        "sessionId": "s1",
        "organizationId": first.organization_id,
        "correlationId": "corr-s1",
        "startedAt": "2026-03-01T12:00:00.250000Z",
        "endedAt": "2026-03-01T12:00:40.250000Z",
        "outcome": "completed",
        "disconnectReason": None,
        "participant": dict(first.participant),
        "channels": ["external", "internal"],
        "mediaFormat": "PCMU",
        "language": "en-US",
        "engine": "local",
        "replica": "replica-a",
        "transcribing": False,
        "controlVersion": 0,
        "audioSeconds": 30.5,
        "transcribedSeconds": 28.25,
        "transcripts": 2,
    }
    assert [u["utteranceId"] for u in body["utterances"]] == ["u1", "u2", "u3"]
    assert body["utterances"][0] == {
        "sessionId": "s1",
        "utteranceId": "u1",
        "channel": 0,
        "role": "external",
        "offset": 1.5,
        "duration": 0.75,
        "text": "hello, I would like to check my balance",
        "confidence": 0.875,
        "language": "en-US",
        "words": [
            {"value": "hello", "offset": 1.5, "duration": 0.25, "confidence": 0.9},
            {"value": "balance", "offset": 2.0, "duration": 0.25, "confidence": 0.75},
        ],
        "translation": {"text": "bonjour", "language": "fr-FR"},
        "engine": "local",
        "sentAt": "2026-03-01T12:00:02.250000Z",
    }
    assert body["utterances"][1]["translation"] is None


async def test_after_a_start_the_control_is_part_of_the_status(api: Api) -> None:
    with trio.fail_after(10):
        await api.client.post(f"/v1/conversations/{CID}/start", json={"language": "de-DE"}, headers=bearer(BOTH))
        response = await api.client.get(f"/v1/conversations/{CID}", headers=bearer(BOTH))
    body = response.json()
    assert body["control"]["state"] == "started" and body["control"]["language"] == "de-DE"
    assert body["sessions"] == [] and body["utterances"] == [] and body["channels"] == []
    assert "applied" not in body


async def test_an_unknown_conversation_is_404(api: Api) -> None:
    with trio.fail_after(10):
        response = await api.client.get(f"/v1/conversations/{uuid.uuid4()}", headers=bearer(READ))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.json()["info"].startswith("no conversation ")


async def test_the_list_pages_newest_first_within_the_interval(api: Api, database: Database) -> None:
    ids = [str(uuid.UUID(int=n)) for n in range(5)]
    database.write(
        [session(f"s{n}", ids[n], started_at=T0 + timedelta(hours=n), updated_at=T0) for n in range(5)],
        [utterance("u1", "s3", ids[3]), utterance("u2", "s3", ids[3])],
    )
    pages: list[list[str]] = []
    cursor: str | None = None
    with trio.fail_after(10):
        while True:
            params = {"limit": "2", "from": "2026-03-01T13:00:00Z", "to": "2026-03-01T17:00:00+00:00"}
            response = await api.client.get(
                "/v1/conversations", params={**params, **({"cursor": cursor} if cursor else {})}, headers=bearer(READ)
            )
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append([item["conversationId"] for item in body["items"]])
            if (cursor := body["nextCursor"]) is None:
                break
    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]]]
    with trio.fail_after(10):
        response = await api.client.get(
            "/v1/conversations", params={"from": "2026-03-01T15:00:00"}, headers=bearer(READ)
        )
    items = response.json()["items"]
    assert [i["conversationId"] for i in items] == [ids[4], ids[3]]  # no offset: UTC
    assert items[1] == {
        "conversationId": ids[3],
        "organizationId": "d7934305-0972-4844-938e-9060eef73d05",
        "startedAt": "2026-03-01T15:00:00.250000Z",
        "endedAt": None,
        "sessions": 1,
        "utterances": 2,
    }


async def test_a_bad_cursor_and_bad_list_parameters(api: Api) -> None:
    with trio.fail_after(10):
        cursor = await api.client.get("/v1/conversations", params={"cursor": "not-a-cursor"}, headers=bearer(READ))
        limit = await api.client.get("/v1/conversations", params={"limit": "501"}, headers=bearer(READ))
        since = await api.client.get("/v1/conversations", params={"from": "yesterday"}, headers=bearer(READ))
        order = await api.client.get(
            "/v1/conversations",
            params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
            headers=bearer(READ),
        )
    assert (cursor.status_code, cursor.json()["error"]) == (400, "bad_cursor")
    assert limit.status_code == 422
    assert limit.json() == {
        "error": "invalid_request",
        "info": "limit (query): Input should be less than or equal to 500",
    }
    assert since.status_code == 422 and since.json()["info"].startswith("from (query): ")
    assert order.json() == {"error": "invalid_request", "info": "to (query): must be later than from"}


async def test_health_needs_no_token(api: Api) -> None:
    with trio.fail_after(10):
        response = await api.client.get("/v1/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_a_session_whose_replica_stopped_reporting_is_lost_not_live(api: Api, database: Database) -> None:
    """A replica killed mid-call leaves its session without an outcome; after a minute without an
    update the status says so instead of showing it transcribing for ever."""
    database.write([session("s1", updated_at=datetime.now(UTC) - timedelta(seconds=61))], [])
    with trio.fail_after(10):
        body = (await api.client.get(f"/v1/conversations/{CID}", headers=bearer(READ))).json()
    assert body["live"] is False
    assert [c["status"] for c in body["channels"]] == ["lost", "lost"]
