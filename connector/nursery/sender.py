"""The session's writer: the only task that writes to the WebSocket.

What goes out, in which order and when is decided by the machine's outbox
(:mod:`connector.protocol.outbox`, sans-IO); this loop only asks it with the time, writes what it
answers within ``send_timeout``, sleeps until the time it names or until something new is queued,
and reports each written message to the observer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from ..observe import NullObserver, Observer
from ..protocol import Outgoing, SessionMachine

__all__ = ["Sender"]


@dataclass
class Sender:
    machine: SessionMachine
    send_text: Callable[[str], Awaitable[None]]
    send_timeout: float = 10.0
    observer: Observer = field(default_factory=NullObserver)
    on_written: Callable[[Outgoing], None] | None = None

    def __post_init__(self) -> None:
        self._wakeup = trio.Event()
        self.finished = trio.Event()
        """Set once ``closed`` has been written (nothing may follow it)."""

    def wake(self) -> None:
        """Something was queued in the outbox: ask it again."""
        self._wakeup.set()

    async def run(self) -> None:
        """Write messages until ``closed`` is written; cancelled by the session otherwise."""
        while True:
            answer = self.machine.next_message(trio.current_time())
            if isinstance(answer, Outgoing):
                with trio.fail_after(self.send_timeout):
                    await self.send_text(answer.text)
                self._written(answer)
                if answer.type == "closed":
                    self.finished.set()
                    return
                continue
            # Nothing may go yet: no checkpoint since the outbox was asked, so nothing was missed.
            self._wakeup = trio.Event()
            if answer is None:
                await self._wakeup.wait()
            else:
                with trio.move_on_at(answer):
                    await self._wakeup.wait()

    def _written(self, message: Outgoing) -> None:
        self.observer.message_sent(message.type)
        if message.transcripts:
            sent_at = trio.current_time()
            for carried in message.transcripts:
                latency = None if carried.heard_at is None else sent_at - carried.heard_at
                self.observer.transcript_sent(carried.engine, carried.is_final, latency)
        if self.on_written is not None:
            self.on_written(message)
