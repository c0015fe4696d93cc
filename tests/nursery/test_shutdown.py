"""The server's shutdown signal reaches every live session once, with no task per session."""

from __future__ import annotations

from connector.nursery import Shutdown


def test_callbacks_run_once_and_late_subscribers_run_at_once() -> None:
    shutdown = Shutdown()
    calls: list[str] = []
    unsubscribe_a = shutdown.subscribe(lambda: calls.append("a"))
    unsubscribe_b = shutdown.subscribe(lambda: calls.append("b"))
    unsubscribe_b()  # a session that ended before the shutdown
    assert calls == [] and not shutdown.is_set
    shutdown.set()
    shutdown.set()
    assert calls == ["a"] and shutdown.is_set
    shutdown.subscribe(lambda: calls.append("late"))  # a session starting during the drain
    assert calls == ["a", "late"]
    unsubscribe_a()  # harmless after the fact

