"""The export: JSON lines and CSV in the store's order across batches, its limits, and a download
abandoned half-way that stops pulling batches and closes the store's iterator."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx2
import pytest
import trio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector.api import export
from connector.store import Database, UtteranceRecord
from tests.api.kit import CID, READ, Api, Hub, at, bearer, running_api, session, translated, utterance

OTHER = "0f0e0d0c-0b0a-4909-8807-060504030201"
WINDOW = {"from": "2026-03-01T12:00:00Z", "to": "2026-03-01T13:00:00Z"}


def fill(database: Database) -> list[str]:
    """Five utterances in the window (two conversations, written out of order), one after it; their ids in order."""
    database.write(
        [session("s1"), session("s2", OTHER)],
        [
            utterance("u4", "s2", OTHER, sent_at=at(40)),
            translated(utterance("u1", "s1", sent_at=at(1), text='a "quoted", text\nover two lines')),
            utterance("u5", "s1", sent_at=at(50), words=()),
            utterance("u2", "s2", OTHER, sent_at=at(10)),
            utterance("u3", "s1", sent_at=at(20), language=None),
            utterance("late", "s1", sent_at=at(3600)),
        ],
    )
    return ["u1", "u2", "u3", "u4", "u5"]


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "EXPORT_BATCH", 2)  # five rows: three batches


async def test_json_lines_in_order_across_batches(api: Api, database: Database) -> None:
    order = fill(database)
    with trio.fail_after(10):
        response = await api.client.get("/v1/export", params=WINDOW, headers=bearer(READ))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == (
        'attachment; filename="transcripts-20260301T120000Z-20260301T130000Z.jsonl"'
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["utteranceId"] for line in lines] == order
    assert lines[0]["conversationId"] == CID and lines[1]["conversationId"] == OTHER
    assert lines[0]["translation"] == {"text": "bonjour", "language": "fr-FR"}
    assert lines[0]["text"] == 'a "quoted", text\nover two lines'
    assert lines[0]["sentAt"] == "2026-03-01T12:00:01.250000Z"
    assert lines[4]["words"] == [] and lines[2]["language"] is None
    with trio.fail_after(10):
        detail = (await api.client.get(f"/v1/conversations/{CID}", headers=bearer(READ))).json()
    same = {u["utteranceId"]: u for u in detail["utterances"]}
    assert {k: v for k, v in lines[0].items() if k != "conversationId"} == same["u1"]  # the GET shape


async def test_csv_with_one_header_row(api: Api, database: Database) -> None:
    order = fill(database)
    with trio.fail_after(10):
        response = await api.client.get("/v1/export", params={**WINDOW, "format": "csv"}, headers=bearer(READ))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(export.CSV_COLUMNS)
    assert [row["utteranceId"] for row in rows] == order
    first = rows[0]
    assert first["text"] == 'a "quoted", text\nover two lines'
    assert (first["translationText"], first["translationLanguage"]) == ("bonjour", "fr-FR")
    assert (first["channel"], first["offset"], first["sentAt"]) == ("0", "1.5", "2026-03-01T12:00:01.250000Z")
    assert json.loads(first["words"]) == [
        {"value": "hello", "offset": 1.5, "duration": 0.25, "confidence": 0.9},
        {"value": "balance", "offset": 2.0, "duration": 0.25, "confidence": 0.75},
    ]
    assert rows[2]["language"] == "" and rows[1]["translationText"] == ""


async def test_an_empty_interval_is_an_empty_file(api: Api) -> None:
    with trio.fail_after(10):
        jsonl = await api.client.get("/v1/export", params=WINDOW, headers=bearer(READ))
        table = await api.client.get("/v1/export", params={**WINDOW, "format": "csv"}, headers=bearer(READ))
    assert (jsonl.status_code, jsonl.content) == (200, b"")
    assert table.text.splitlines() == [",".join(export.CSV_COLUMNS)]


@pytest.mark.parametrize(
    ("params", "info"),
    [
        ({}, "from (query): Field required; to (query): Field required"),
        ({"from": "2026-03-01T12:00:00Z"}, "to (query): Field required"),
        ({**WINDOW, "to": "2026-03-01T12:00:00Z"}, "to (query): must be later than from"),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-04-02T00:00:00Z"}, "to (query): at most 31 days after from"),
        ({**WINDOW, "format": "xml"}, "format (query): Input should be 'jsonl' or 'csv'"),
    ],
)
async def test_bad_export_parameters(api: Api, params: dict[str, str], info: str) -> None:
    with trio.fail_after(10):
        response = await api.client.get("/v1/export", params=params, headers=bearer(READ))
    assert response.status_code == 422
    assert response.json() == {"error": "invalid_request", "info": info}


class HeldExport:
    """The real database, whose export holds its second batch until the test lets it go."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.pulled = 0
        self.release = threading.Event()
        self.closed = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.database, name)

    def export(self, *, start: datetime, end: datetime, batch_size: int = 1000) -> Iterator[list[UtteranceRecord]]:
        source = self.database.export(start=start, end=end, batch_size=batch_size)

        def batches() -> Iterator[list[UtteranceRecord]]:
            try:
                for batch in source:
                    self.pulled += 1
                    if self.pulled == 2:
                        self.release.wait(10)
                    yield batch
            finally:
                self.closed.set()

        return batches()


class DisconnectProbe:
    """ASGI middleware: sets ``seen`` when the server tells the application the client left."""

    seen = trio.Event()

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                DisconnectProbe.seen.set()
            return message

        await self.app(scope, watched, send)


async def test_an_abandoned_download_stops_pulling(nursery: trio.Nursery, database: Database) -> None:
    fill(database)
    store = HeldExport(database)
    DisconnectProbe.seen = trio.Event()
    async with running_api(nursery, store, Hub(), prepare=lambda app: app.add_middleware(DisconnectProbe)) as api:
        with trio.fail_after(10):
            async with (
                httpx2.AsyncClient(base_url=api.url) as client,
                client.stream("GET", "/v1/export", params=WINDOW, headers=bearer(READ)) as response,
            ):
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    assert json.loads(chunk.splitlines()[0])["utteranceId"] == "u1"
                    break
            await DisconnectProbe.seen.wait()  # the server heard the client leave ...
            store.release.set()  # ... while the second batch was being pulled
            await trio.to_thread.run_sync(store.closed.wait, 10)
    assert store.closed.is_set()
    assert store.pulled == 2  # of three: the third was never asked for


class FailingExport(HeldExport):
    """The real database, whose export fails after its first batch (the database went away)."""

    def export(self, *, start: datetime, end: datetime, batch_size: int = 1000) -> Iterator[list[UtteranceRecord]]:
        source = self.database.export(start=start, end=end, batch_size=batch_size)

        def batches() -> Iterator[list[UtteranceRecord]]:
            yield next(source)
            raise ConnectionError("database unreachable")

        return batches()


async def test_a_store_failing_mid_export_is_not_a_short_file(nursery: trio.Nursery, database: Database) -> None:
    fill(database)
    async with running_api(nursery, FailingExport(database), Hub()) as api:
        with trio.fail_after(10), pytest.raises(httpx2.RemoteProtocolError):
            await api.client.get("/v1/export", params=WINDOW, headers=bearer(READ))
