"""Start and stop over real sockets: stored in the real database, handed to the hub, answered
with the conversation's status (applied, or pending when no live session confirmed it)."""

from __future__ import annotations

import uuid

import trio

from connector.store import Database
from tests.api.kit import BOTH, CID, CONTROL, Api, Hub, bearer, running_api, session


async def test_start_before_the_call_is_remembered_and_pending(api: Api, database: Database, hub: Hub) -> None:
    body = {
        "language": "fr-ca",
        "engine": "google",
        "participants": {"customer": "cust-1", "agent": "agent-7"},
        "options": {"model": "long", "enableTranslation": True},
    }
    with trio.fail_after(10):
        response = await api.client.post(f"/v1/conversations/{CID}/start", json=body, headers=bearer(CONTROL))
    assert response.status_code == 200, response.text
    answer = response.json()
    control = answer.pop("control")
    assert answer == {
        "conversationId": CID,
        "live": False,
        "channels": [],
        "summary": {"audioSeconds": 0.0, "transcribedSeconds": 0.0, "transcripts": 0, "sessions": 0},
        "applied": False,
        "status": "pending",
    }
    assert control.pop("updatedAt").endswith("Z")
    assert control == {
        "state": "started",
        "version": 1,
        "language": "fr-CA",
        "engine": "google",
        "participants": {"customer": "cust-1", "agent": "agent-7"},
        "options": {"model": "long", "enableTranslation": True},
    }
    stored = database.control(CID)
    assert stored is not None and (stored.state, stored.version, stored.language) == ("started", 1, "fr-CA")
    assert (stored.customer_id, stored.agent_id, dict(stored.options)) == ("cust-1", "agent-7", body["options"])
    assert hub.requests == [stored]
    assert hub.waits == [(CID, 1, 1.0)]


async def test_start_applied_by_a_live_session(nursery: trio.Nursery, database: Database) -> None:
    hub = Hub(applied=True)
    database.write([session(transcribing=True)], [])
    async with running_api(nursery, database, hub, {"CONNECTOR_API_APPLY_WAIT": "0.25"}) as api:
        with trio.fail_after(10):
            response = await api.client.post(f"/v1/conversations/{CID.upper()}/start", headers=bearer(BOTH))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["applied"], answer["status"], answer["live"]) == (True, "applied", True)
    assert answer["conversationId"] == CID  # the UUID as Genesys spells it (lower case)
    assert answer["channels"] == [
        {"channel": 0, "role": "external", "status": "transcribing"},
        {"channel": 1, "role": "internal", "status": "transcribing"},
    ]
    assert answer["summary"] == {"audioSeconds": 30.5, "transcribedSeconds": 28.25, "transcripts": 2, "sessions": 1}
    assert answer["control"]["participants"] == {"customer": None, "agent": None}
    assert hub.waits == [(CID, 1, 0.25)]


async def test_stop_keeps_the_reason_and_bumps_the_version(api: Api, database: Database, hub: Hub) -> None:
    database.write([session(transcribing=False)], [])
    with trio.fail_after(10):
        first = await api.client.post(f"/v1/conversations/{CID}/start", headers=bearer(CONTROL))
        stop = await api.client.post(
            f"/v1/conversations/{CID}/stop", json={"reason": "customer asked"}, headers=bearer(CONTROL)
        )
    assert first.status_code == 200 and stop.status_code == 200, stop.text
    answer = stop.json()
    assert answer["control"]["state"] == "stopped" and answer["control"]["version"] == 2
    assert answer["control"]["options"] == {"reason": "customer asked"}
    assert [c["status"] for c in answer["channels"]] == ["stopped", "stopped"]
    assert [r.state for r in hub.requests] == ["started", "stopped"]
    assert hub.waits[-1] == (CID, 2, 1.0)


async def test_an_ended_session_shows_ended_channels(api: Api, database: Database) -> None:
    database.write([session(outcome="completed", ended_at=session().started_at, transcribing=False)], [])
    with trio.fail_after(10):
        response = await api.client.post(f"/v1/conversations/{CID}/stop", headers=bearer(CONTROL))
    answer = response.json()
    assert answer["live"] is False
    assert [c["status"] for c in answer["channels"]] == ["ended", "ended"]


async def test_an_empty_json_body_and_null_are_a_plain_start(api: Api, database: Database) -> None:
    other = str(uuid.uuid4())
    with trio.fail_after(10):
        empty = await api.client.post(
            f"/v1/conversations/{other}/start", content=b"", headers={**bearer(CONTROL), "Content-Type": "text/plain"}
        )
        null = await api.client.post(f"/v1/conversations/{other}/start", json=None, headers=bearer(CONTROL))
    assert empty.status_code == 200, empty.text
    assert null.status_code == 200, null.text
    assert null.json()["control"]["version"] == 2
