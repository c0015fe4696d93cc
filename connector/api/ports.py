"""What the API needs of the store and of the control hub, and nothing more.

The API is typed against these two protocols, not the concrete classes
(:class:`connector.store.database.Database`, :class:`connector.store.controls.ControlHub`): the
store's methods are synchronous (the API calls them in worker threads), the hub's are async.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from ..store.records import ControlRecord, ControlState, Conversation, ConversationPage, UtteranceRecord

__all__ = ["ControlRequests", "ConversationStore", "StartCheck"]


class StartCheck(Protocol):
    """Why this server cannot transcribe with a start's engine, language and options, or ``None``."""

    def __call__(self, engine: str | None, language: str | None, options: Mapping[str, Any]) -> str | None: ...


class ConversationStore(Protocol):
    """The transcript store's read and control methods (synchronous, thread-safe)."""

    def conversation(self, conversation_id: str) -> Conversation | None: ...

    def conversations(
        self, *, start: datetime | None, end: datetime | None, cursor: str | None, limit: int
    ) -> ConversationPage:
        """A page of conversations; an invalid ``cursor`` raises :class:`ValueError`."""
        ...

    def export(self, *, start: datetime, end: datetime, batch_size: int = 1000) -> Iterator[list[UtteranceRecord]]:
        """Utterances sent in ``[start, end)`` in batches (keyset paging, constant memory; may be abandoned)."""
        ...

    def put_control(
        self,
        conversation_id: str,
        state: ControlState,
        *,
        language: str | None = None,
        engine: str | None = None,
        customer_id: str | None = None,
        agent_id: str | None = None,
        options: Mapping[str, Any] | None = None,
        now: datetime,
    ) -> ControlRecord: ...

    def control(self, conversation_id: str) -> ControlRecord | None: ...


class ControlRequests(Protocol):
    """The control hub as the API uses it (:class:`connector.store.controls.ControlHub`)."""

    async def requested(self, record: ControlRecord) -> None:
        """Tell the replicas; the one whose session holds the conversation applies it."""
        ...

    async def wait_applied(self, conversation_id: str, version: int, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether a live session reported ``version`` applied within ``timeout`` seconds."""
        ...
