"""Results produced concurrently, handed out in the order their work was started.

A recognizer sends each utterance to a service as soon as it is cut, and a translator each
final as soon as it arrives, so several requests are in flight at once and finish in any
order; but a transcript must come out in the order it was spoken. Both use the same pattern,
written once here: the producer *reserves* a :class:`Slot` when it starts a piece of work (in
the order the results must come out), the work fills the slot when it finishes, and one
consumer iterates over :class:`InOrder`, which waits for each slot in turn. A slow result
delays the ones after it but is never overtaken by them.

A slot may also be *failed* with an exception: the consumer gets it raised at that slot's turn,
after every earlier result, so a failure is reported where it happened in the sequence.

The line is unbounded (a reservation never waits): bounding how much work is in flight is the
producer's business (a semaphore around the work, say). Every reserved slot must be filled or
failed, or the consumer waits for it forever; in practice the work runs in the same nursery as
the consumer, so a cancelled call cancels both.
"""

from __future__ import annotations

import math
from typing import Generic, TypeVar, cast

import trio

__all__ = ["InOrder", "Slot"]

T = TypeVar("T")


class Slot(Generic[T]):
    """One result's place in line: filled (or failed) once, by the work it was reserved for."""

    __slots__ = ("_done", "_error", "_filled", "_value")

    def __init__(self) -> None:
        self._done = trio.Event()
        self._filled = False
        self._value: T | None = None
        self._error: Exception | None = None

    def fill(self, value: T) -> None:
        """The result is ready: the consumer gets ``value`` at this slot's turn."""
        self._settle()
        self._value = value

    def fail(self, error: Exception) -> None:
        """The work failed: the consumer gets ``error`` raised at this slot's turn."""
        self._settle()
        self._error = error

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _settle(self) -> None:
        if self._filled:
            raise RuntimeError("a slot is filled once")
        self._filled = True
        self._done.set()

    async def result(self) -> T:
        """Wait until the slot is filled; its value, or its failure raised."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return cast(T, self._value)  # filled, so a T (which may itself include None)


class InOrder(Generic[T]):
    """Slots in the order they were reserved; iterating waits for each one's result in turn.

    One producer reserves (:meth:`reserve`, :meth:`put`) and then closes the line
    (:meth:`close`, or ``with line:``); one consumer iterates with ``async for``, which ends
    once the line is closed and every slot's result has been handed out.
    """

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[Slot[T]](math.inf)

    def reserve(self) -> Slot[T]:
        """Take the next place in line, for work that fills it later."""
        slot = Slot[T]()
        self._send.send_nowait(slot)
        return slot

    def put(self, value: T) -> None:
        """A result known at once: it still waits for every result reserved before it."""
        self.reserve().fill(value)

    def close(self) -> None:
        """Nothing more will be reserved: the iteration ends after the last reserved slot."""
        self._send.close()

    def __enter__(self) -> InOrder[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __aiter__(self) -> InOrder[T]:
        return self

    async def __anext__(self) -> T:
        try:
            slot = await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
        return await slot.result()
