"""``GET /v1/export``: every utterance sent in an interval, streamed as JSON lines or CSV.

Memory stays constant however long the interval: the store pages with a keyset
(:meth:`~connector.api.ports.ConversationStore.export`) and :class:`ExportStream` pulls one batch
at a time in a worker thread, renders it there (serialising a thousand utterances is CPU work the
event loop should not do) and hands the bytes to the response before it asks for the next batch.
The first batch is pulled before the response starts, so a failing store is a JSON 500, not a
truncated 200. A client that disconnects cancels the response: no further batch is pulled, and
the store's iterator is closed (its cursor and connection released) in any case.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

import trio
from fastapi import APIRouter, Query
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ..store.records import UtteranceRecord
from .errors import ApiError
from .guard import requires
from .models import ExportedUtterance, iso_utc
from .ports import ConversationStore
from .routes import aware, error_responses
from .settings import Scope as TokenScope
from .views import exported

__all__ = ["CSV_COLUMNS", "EXPORT_BATCH", "MAX_EXPORT_DAYS", "ExportStream", "add_export_route", "document_export_line"]

MAX_EXPORT_DAYS = 31
"""The longest interval one export may cover; ask again for the next one."""
EXPORT_BATCH = 500
"""Utterances per batch pulled from the store (and per chunk written)."""

CSV_COLUMNS = (
    "conversationId", "sessionId", "utteranceId", "channel", "role", "offset", "duration", "text", "confidence",
    "language", "engine", "sentAt", "translationText", "translationLanguage", "words",
)  # fmt: skip

Format = Literal["jsonl", "csv"]
Render = Callable[[Sequence[UtteranceRecord]], bytes]


def render_jsonl(batch: Sequence[UtteranceRecord]) -> bytes:
    return "".join(exported(u).model_dump_json() + "\n" for u in batch).encode()


def render_csv(batch: Sequence[UtteranceRecord], *, header: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(CSV_COLUMNS)
    for u in batch:
        words = [{"value": w.value, "offset": w.offset, "duration": w.duration, "confidence": w.confidence}
                 for w in u.words]  # fmt: skip
        writer.writerow([
            u.conversation_id, u.session_id, u.utterance_id, u.channel, u.role, u.offset, u.duration, u.text,
            u.confidence, u.language or "", u.engine, iso_utc(u.sent_at),
            u.translation.text if u.translation else "", u.translation.language if u.translation else "",
            json.dumps(words, ensure_ascii=False),
        ])  # fmt: skip
    return out.getvalue().encode()


class ExportStream:
    """The export's bytes, one store batch per chunk; :meth:`aclose` always closes the store's iterator."""

    def __init__(self, store: ConversationStore, limiter: trio.CapacityLimiter, start: datetime, end: datetime,
                 render: Render, head: bytes = b"") -> None:  # fmt: skip
        self._open = partial(store.export, start=start, end=end, batch_size=EXPORT_BATCH)
        self._limiter = limiter
        self._render = render
        self._source: Iterator[list[UtteranceRecord]] | None = None
        self._pending = head
        self._done = False

    def _pull(self) -> bytes | None:
        """In a worker thread: the next batch, rendered; ``None`` at the end."""
        if self._source is None:
            self._source = self._open()
        batch = next(self._source, None)
        return None if batch is None else self._render(batch)

    async def start(self) -> None:
        """Pull the first batch now, so a store failure is raised before the response starts."""
        first = await trio.to_thread.run_sync(self._pull, limiter=self._limiter)
        if first is None:
            self._done = True
        else:
            self._pending += first

    def __aiter__(self) -> ExportStream:
        return self

    async def __anext__(self) -> bytes:
        if self._pending:
            pending, self._pending = self._pending, b""
            return pending
        chunk = None if self._done else await trio.to_thread.run_sync(self._pull, limiter=self._limiter)
        if chunk is None:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self._done = True
        source, self._source = self._source, None
        close = getattr(source, "close", None)
        if close is not None:
            with trio.CancelScope(shield=True):  # a cancelled download must still release the cursor
                await trio.to_thread.run_sync(close, limiter=self._limiter)


class ExportResponse(StreamingResponse):
    """A streaming response that closes its :class:`ExportStream` however the response ends."""

    def __init__(self, stream: ExportStream, *, media_type: str, filename: str) -> None:
        headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
        super().__init__(stream, media_type=media_type, headers=headers)
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.stream.aclose()


_REF = "#/components/schemas/"


def document_export_line(document: dict[str, Any]) -> None:
    """Add the export line's schema to an OpenAPI document (FastAPI lists only the models routes return)."""
    definition = ExportedUtterance.model_json_schema(ref_template=_REF + "{model}", mode="serialization")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, part in definition.pop("$defs", {}).items():
        schemas.setdefault(name, part)
    schemas.setdefault(ExportedUtterance.__name__, definition)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def add_export_route(router: APIRouter, store: ConversationStore, limiter: trio.CapacityLimiter) -> None:
    """``GET /v1/export`` on ``router``."""

    @router.get(
        "/v1/export",
        tags=["read"],
        openapi_extra=requires(TokenScope.READ),
        response_class=StreamingResponse,
        summary=f"Utterances sent in [from, to), at most {MAX_EXPORT_DAYS} days, as JSON lines or CSV (scope: read)",
        responses={
            200: {
                "description": "One utterance per line (JSON lines), or CSV with a header row",
                "content": {
                    "application/x-ndjson": {"schema": {"$ref": f"{_REF}ExportedUtterance"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            **error_responses(401, 403, 422),
        },
    )
    async def export(
        since: Annotated[datetime, Query(alias="from", description="ISO 8601; without an offset: UTC.")],
        until: Annotated[datetime, Query(alias="to", description="ISO 8601, exclusive; without an offset: UTC.")],
        fmt: Annotated[Format, Query(alias="format")] = "jsonl",
    ) -> ExportResponse:
        start, end = aware(since), aware(until)
        assert start is not None and end is not None
        if end <= start:
            raise ApiError(422, "invalid_request", "to (query): must be later than from")
        if end - start > timedelta(days=MAX_EXPORT_DAYS):
            raise ApiError(422, "invalid_request", f"to (query): at most {MAX_EXPORT_DAYS} days after from")
        if fmt == "csv":
            stream = ExportStream(store, limiter, start, end, render_csv, render_csv([], header=True))
            media_type = "text/csv; charset=utf-8"
        else:
            stream = ExportStream(store, limiter, start, end, render_jsonl)
            media_type = "application/x-ndjson"
        try:
            await stream.start()
        except BaseException:
            await stream.aclose()
            raise
        filename = f"transcripts-{_stamp(start)}-{_stamp(end)}.{fmt}"
        return ExportResponse(stream, media_type=media_type, filename=filename)
