"""connector.ordered: results produced concurrently come out in the order their slots were reserved."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from connector.ordered import InOrder, Slot


async def _collect(line: InOrder[str], into: list[tuple[float, str]]) -> None:
    async for value in line:
        into.append((trio.current_time(), value))


async def test_results_come_out_in_reservation_order_each_as_soon_as_it_may(
    autojump_clock: trio.testing.MockClock,
) -> None:
    out: list[tuple[float, str]] = []

    async def work(slot: Slot[str], value: str, seconds: float) -> None:
        await trio.sleep(seconds)
        slot.fill(value)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        line = InOrder[str]()
        nursery.start_soon(_collect, line, out)
        with line:
            nursery.start_soon(work, line.reserve(), "slow", 3.0)
            nursery.start_soon(work, line.reserve(), "fast", 1.0)
            line.put("known")
            nursery.start_soon(work, line.reserve(), "later", 5.0)
    # "fast" and "known" wait for "slow"; "later" comes out when it is done, not before.
    assert [(round(t - start, 6), v) for t, v in out] == [(3.0, "slow"), (3.0, "fast"), (3.0, "known"), (5.0, "later")]


async def test_a_failure_is_raised_at_its_turn_after_the_results_before_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    out: list[tuple[float, str]] = []
    line = InOrder[str]()
    first, failing, after = line.reserve(), line.reserve(), line.reserve()
    line.close()
    after.fill("after")  # ready first, but behind the failure: never handed out

    async def settle() -> None:
        await trio.sleep(1.0)
        failing.fail(ValueError("boom"))
        await trio.sleep(1.0)
        first.fill("first")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(settle)
        with pytest.raises(ValueError, match="boom"):
            await _collect(line, out)
    assert [v for _, v in out] == ["first"]
    assert trio.current_time() == pytest.approx(2.0)


async def test_iteration_ends_when_the_line_is_closed_and_empty() -> None:
    line = InOrder[int | None]()
    line.put(None)  # None is a value like any other
    line.put(0)
    line.close()
    assert [v async for v in line] == [None, 0]
    assert [v async for v in line] == []


async def test_closing_with_nothing_reserved_ends_the_consumer_waiting_for_the_first_slot() -> None:
    line = InOrder[int]()
    out: list[int] = []

    async def consume() -> None:
        out.extend([v async for v in line])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        line.close()
    assert out == []


async def test_a_slot_is_settled_once() -> None:
    line = InOrder[str]()
    slot = line.reserve()
    assert not slot.done
    slot.fill("a")
    assert slot.done
    with pytest.raises(RuntimeError):
        slot.fill("b")
    with pytest.raises(RuntimeError):
        slot.fail(ValueError("late"))
    assert await slot.result() == "a"


async def test_nothing_is_reserved_after_close() -> None:
    line = InOrder[str]()
    with line:
        pass
    with pytest.raises(trio.ClosedResourceError):
        line.reserve()
