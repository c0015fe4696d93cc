"""The reference AudioHook client as the conformance scenarios drive it: the session of
:mod:`tests.conformance.refsession` plus the jest suite's helpers, under the suite's names
(``pinging``, ``pausing``...), and the waits the scenarios need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from tests.conformance.refmedia import RATE
from tests.conformance.refsession import NIL, ClientSession, Timing, as_duration

__all__ = ["NIL", "ReferenceClient", "Timing", "as_duration"]


class ReferenceClient(ClientSession):
    """One reference-client session against ``port``, with the suite's helpers; start it with :meth:`start`."""

    # the jest suite's helpers

    def pinging(self) -> None:
        self.send_ping()

    def erroring(self, code: int = 400, message: str = "tough stuff", retry_after: str | None = None) -> None:
        params: dict[str, Any] = {"code": code, "message": message}
        if retry_after is not None:
            params["retryAfter"] = retry_after
        self._send(self._builder().message("error", params))

    def updating(self, language: str) -> None:
        self._send(self._builder().update(language))

    def discarding(self, start: str, duration: str) -> None:
        """The suite passes Duration strings of its own (which need not be whole samples)."""
        self._send(self._builder().message("discarded", {"start": start, "discarded": duration}))

    def pausing(self) -> None:
        """``pausing()``: the source emits ``paused`` *and* the helper sends another one."""
        self.source.pause()
        self.view.paused_msg = self._send(self._builder().paused())

    def resuming(self) -> None:
        """``resuming(start, discarded)`` ignores its arguments: the source computes them."""
        self.source.resume()

    async def close(self) -> None:
        """``client.close()``: close with reason ``end`` and wait until disconnected."""
        self.initiate_close("end")
        await self.wait_disconnected()

    async def wait_disconnected(self) -> None:
        with trio.fail_after(self.timing.close_timeout + 2):
            await self.disconnected.wait()

    async def wait_closed(self, limit: float = 15) -> None:
        """``waitForClosed``: until the ``closed`` message arrived."""
        with trio.fail_after(limit):
            await self._closed.wait()

    async def wait_pong(self, count: int = 1, limit: float = 5) -> None:
        """``waitForPong``: until ``count`` pongs have arrived in total."""
        with trio.fail_after(limit):
            while self.pongs < count:
                await self._pong.wait()

    async def wait_position(self, seconds: float, limit: float = 10) -> None:
        """The compressed ``delay(ms)``: until the media source has streamed up to ``seconds``."""
        event = trio.Event()
        target = round(seconds * RATE)
        if self.source.sample_pos >= target:
            return
        self._position_waiters.append((target, event))
        with trio.fail_after(limit):
            await event.wait()

    async def wait_message(
        self, msg_type: str, match: Callable[[dict[str, Any]], bool] = lambda m: True, limit: float = 5
    ) -> dict[str, Any]:
        """Until a ``msg_type`` message for which ``match`` holds has arrived."""
        with trio.fail_after(limit):
            while True:
                for message in self.messages(msg_type):
                    if match(message):
                        return message
                await self._received.wait()

    def messages(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.view.received if m["type"] == msg_type]

    def sent_of(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == msg_type]
