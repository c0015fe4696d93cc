"""Replicas sharing one PostgreSQL, as real server processes: start/stop through one applies on the
other, a nonce accepted by one is refused by the other, and SIGKILL loses nothing committed."""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import trio

from connector.security import sign_request
from connector.testing.server import TEST_SECRET
from connector.testing.stored import API_TOKEN
from tests.rawclient import ORG, connect, silence, tone
from tests.served_process import Served, serving

SCRIPTED = {
    "CONNECTOR_ENGINES": "connector.testing.scripted_engine:create_engine",
    "CONNECTOR_DEFAULT_ENGINE": "scripted",
    "CONNECTOR_DRAIN_TIMEOUT": "2",
}


@asynccontextmanager
async def replicas(tmp_path: Path, url: str, count: int, **env: str) -> AsyncIterator[list[Served]]:
    async with AsyncExitStack() as stack:
        served = []
        for n in range(count):
            home = tmp_path / f"replica{n}"
            home.mkdir()
            environment = {**SCRIPTED, "CONNECTOR_STORE_URL": url, "CONNECTOR_REPLICA_ID": f"replica-{n}", **env}
            served.append(await stack.enter_async_context(serving(home, environment, api=True)))
        yield served
        for one in served:
            if one.process.returncode is None:
                one.process.send_signal(signal.SIGTERM)


async def api(served: Served, method: str, path: str, **kwargs: Any) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{served.api_port}", headers=headers, timeout=10) as c:
        return await c.request(method, path, **kwargs)


def speech() -> np.ndarray:
    return np.concatenate([tone(0.6), silence(0.5)])


async def test_start_and_stop_through_one_replica_apply_to_a_call_on_the_other(
    tmp_path: Path, postgres_url: str
) -> None:
    async with replicas(tmp_path, postgres_url, 2, CONNECTOR_TRANSCRIBE="on-start") as (front, holder):
        async with connect(holder.port, secret=TEST_SECRET) as client:
            await client.open()
            cid = client.conversation_id
            await client.audio(speech(), silence(1.1))  # before the start: not transcribed
            started = await api(front, "POST", f"/v1/conversations/{cid}/start", json={})
            assert started.status_code == 200
            assert started.json()["applied"] is True  # the holder applied it and said so within the wait
            await client.audio(speech(), silence(1.1))
            stopped = await api(front, "POST", f"/v1/conversations/{cid}/stop", json={})
            assert stopped.json()["applied"] is True
            await client.audio(speech(), silence(1.1))
            await client.close()
        assert [(t["channelId"], t["offset"]) for t in client.transcripts(final=True)] == [(0, "PT1.1S")]
        status = (await api(front, "GET", f"/v1/conversations/{cid}")).json()
        assert status["sessions"][0]["replica"] == "replica-1"


def _upgrade_head(host: str, session_id: str) -> str:
    signed = sign_request(
        api_key="test-key", client_secret_b64=TEST_SECRET, host=host, target="/audiohook",
        organization_id=ORG, session_id=session_id, correlation_id="0f3e5a2c-9d1b-4c7e-8a6f-2b4d6c8e0a1f",
    )  # fmt: skip
    lines = [
        "GET /audiohook HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13",
        f"Audiohook-Organization-Id: {ORG}", f"Audiohook-Session-Id: {session_id}",
        "Audiohook-Correlation-Id: 0f3e5a2c-9d1b-4c7e-8a6f-2b4d6c8e0a1f", "X-API-KEY: test-key",
        *(f"{name}: {value}" for name, value in signed.items()),
    ]  # fmt: skip
    return "\r\n".join(lines) + "\r\n\r\n"


async def _status_of(port: int, head: str) -> tuple[int, bytes]:
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(head.encode("latin-1"))
            data = b""
            while b"\r\n\r\n" not in data or (not data.startswith(b"HTTP/1.1 101") and not data.endswith(b"}")):
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                data += chunk
    return int(data.split(b" ", 2)[1]), data.partition(b"\r\n\r\n")[2]


async def test_a_nonce_accepted_by_one_replica_is_refused_by_the_other(tmp_path: Path, postgres_url: str) -> None:
    """Behind a load balancer both replicas see the same Host; the signed request is replayed to the second."""
    async with replicas(tmp_path, postgres_url, 2) as (first, second):
        head = _upgrade_head("connector.example.com", "7c9e6679-7425-40de-944b-e07fc1f90ae7")
        status, _ = await _status_of(first.port, head)
        assert status == 101
        status, body = await _status_of(second.port, head)
        assert status == 401 and b"Replayed nonce" in body


async def _committed(served: Served, conversation_id: str, count: int) -> dict[str, Any]:
    """The conversation once ``count`` utterances are readable: another process writes them, so
    this asks it again until they are (bounded)."""
    with trio.fail_after(15):
        while True:
            response = await api(served, "GET", f"/v1/conversations/{conversation_id}")
            if response.status_code == 200 and len(response.json()["utterances"]) >= count:
                return dict(response.json())
            await trio.sleep(0.05)


async def test_sigkill_mid_call_loses_no_committed_transcript(tmp_path: Path, url: str) -> None:
    environment: Mapping[str, str] = {**SCRIPTED, "CONNECTOR_STORE_URL": url}
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    async with (
        serving(tmp_path / "first", environment, api=True) as served,
        connect(served.port, secret=TEST_SECRET) as client,
    ):
        await client.open()
        await client.audio(speech(), speech())
        await client.audio(speech(), speech())
        with trio.fail_after(10):
            while len(client.transcripts(final=True)) < 4:
                await client.next()
        before = await _committed(served, client.conversation_id, 4)
        served.process.kill()  # SIGKILL: no drain, no flush
        with trio.fail_after(10):
            await served.process.wait()
    sent = [t["id"] for t in client.transcripts(final=True)]
    async with serving(tmp_path / "second", environment, api=True) as again:
        after = (await api(again, "GET", f"/v1/conversations/{client.conversation_id}")).json()
        again.process.send_signal(signal.SIGTERM)
    assert [u["utteranceId"] for u in after["utterances"]] == [u["utteranceId"] for u in before["utterances"]]
    assert sorted(u["utteranceId"] for u in after["utterances"]) == sorted(sent)
    assert after["sessions"][0]["outcome"] is None  # it never ended: the row says it was live
