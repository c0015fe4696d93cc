"""The conversation routes: start, stop, status and list (the export is in :mod:`.export`).

The store is synchronous, so each call goes to a worker thread under the store's limiter, and
so does building a long conversation's body (thousands of utterances are CPU work the event loop
should not do). A start or stop is stored first (``put_control`` gives it its version), then
handed to the hub, which tells the session holding the call; the answer waits a moment
(``apply_wait``) for that session to report it applied, and says ``pending`` otherwise: a request
made before Genesys opens the call is remembered and applied when it does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, TypeVar
from uuid import UUID

import trio
from fastapi import APIRouter, Body, Path, Query

from ..store.records import ControlState
from .errors import ApiError
from .guard import requires
from .models import (
    ControlResult,
    ConversationDetail,
    ConversationList,
    ErrorBody,
    StartRequest,
    StopRequest,
)
from .ports import ControlRequests, ConversationStore, StartCheck
from .settings import ApiSettings, Scope
from .views import conversation_item, conversation_state, session_view, utterance_view

__all__ = ["ConversationId", "Since", "Until", "add_conversation_routes", "aware", "error_responses"]

T = TypeVar("T")

ConversationId = Annotated[UUID, Path(alias="conversationId", description="The Genesys conversation id (a UUID).")]
Since = Annotated[datetime | None, Query(alias="from", description="ISO 8601; without an offset it is taken as UTC.")]
Until = Annotated[datetime | None, Query(alias="to", description="ISO 8601, exclusive; without an offset: UTC.")]

_DESCRIPTIONS = {
    400: "Malformed JSON or a bad cursor",
    401: "Missing or unknown bearer token",
    403: "The token lacks the route's scope",
    404: "No such conversation",
    413: "Body over CONNECTOR_API_MAX_BODY",
    415: "The body is not JSON",
    422: "Invalid input; info names the field",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: each status with the one error body (JSON, whatever the route's own type)."""
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status], "content": content} for status in statuses
    }


def aware(value: datetime | None) -> datetime | None:
    """A query time in UTC; one without an offset is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_conversation_routes(
    router: APIRouter,
    store: ConversationStore,
    hub: ControlRequests,
    settings: ApiSettings,
    limiter: trio.CapacityLimiter,
    check_start: StartCheck | None = None,
) -> None:
    """Start, stop, one conversation and the list, on ``router``."""

    async def in_thread(call: Callable[[], T]) -> T:
        return await trio.to_thread.run_sync(call, limiter=limiter)

    async def control(conversation_id: str, state: ControlState, fields: Mapping[str, Any]) -> ControlResult:
        now = datetime.now(UTC)
        record = await in_thread(partial(store.put_control, conversation_id, state, now=now, **fields))
        await hub.requested(record)
        applied = await hub.wait_applied(conversation_id, record.version, timeout=settings.apply_wait)
        conversation = await in_thread(partial(store.conversation, conversation_id))
        body = dict(conversation_state(conversation_id, conversation, record))
        return ControlResult(**body, applied=applied, status="applied" if applied else "pending")

    control_errors = error_responses(400, 401, 403, 413, 415, 422)

    @router.post(
        "/v1/conversations/{conversationId}/start",
        tags=["control"],
        openapi_extra=requires(Scope.CONTROL),
        responses=control_errors,
        summary="Start transcribing a conversation (scope: control)",
    )
    async def start(
        conversation_id: ConversationId, body: Annotated[StartRequest | None, Body()] = None
    ) -> ControlResult:
        body = body or StartRequest()
        if check_start is not None and (problem := check_start(body.engine, body.language, body.options or {})):
            raise ApiError(422, "invalid_request", problem)
        participants = body.participants
        return await control(
            str(conversation_id),
            "started",
            {
                "language": body.language,
                "engine": body.engine,
                "customer_id": participants.customer if participants else None,
                "agent_id": participants.agent if participants else None,
                "options": body.options,
            },
        )

    @router.post(
        "/v1/conversations/{conversationId}/stop",
        tags=["control"],
        openapi_extra=requires(Scope.CONTROL),
        responses=control_errors,
        summary="Stop transcribing a conversation (scope: control)",
    )
    async def stop(
        conversation_id: ConversationId, body: Annotated[StopRequest | None, Body()] = None
    ) -> ControlResult:
        reason = body.reason if body else None
        return await control(str(conversation_id), "stopped", {"options": {"reason": reason} if reason else None})

    @router.get(
        "/v1/conversations/{conversationId}",
        tags=["read"],
        openapi_extra=requires(Scope.READ),
        responses=error_responses(401, 403, 404, 422),
        summary="One conversation: status, sessions, utterances (scope: read)",
    )
    async def conversation(conversation_id: ConversationId) -> ConversationDetail:
        key = str(conversation_id)

        def detail() -> ConversationDetail | None:
            found = store.conversation(key)
            if found is None:
                return None
            return ConversationDetail(
                **dict(conversation_state(key, found)),
                sessions=[session_view(s) for s in found.sessions],
                utterances=[utterance_view(u) for u in found.utterances],
            )

        if (result := await in_thread(detail)) is None:
            raise ApiError(404, "not_found", f"no conversation {key}")
        return result

    @router.get(
        "/v1/conversations",
        tags=["read"],
        openapi_extra=requires(Scope.READ),
        responses=error_responses(400, 401, 403, 422),
        summary="Conversations, newest first, a page at a time (scope: read)",
    )
    async def conversations(
        since: Since = None,
        until: Until = None,
        cursor: Annotated[str | None, Query(max_length=1024, description="nextCursor of the previous page.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> ConversationList:
        start, end = aware(since), aware(until)
        if start is not None and end is not None and end <= start:
            raise ApiError(422, "invalid_request", "to (query): must be later than from")
        try:
            page = await in_thread(partial(store.conversations, start=start, end=end, cursor=cursor, limit=limit))
        except ValueError:
            raise ApiError(400, "bad_cursor", "cursor (query): not a cursor this server gave out") from None
        return ConversationList(items=[conversation_item(s) for s in page.items], next_cursor=page.next_cursor)
