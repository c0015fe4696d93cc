"""An observer that remembers what it was told, for tests of what the server counts."""

from __future__ import annotations

from collections import Counter

from ..observe import NullObserver
from ..report import SessionReport

__all__ = ["RecordingObserver"]


class RecordingObserver(NullObserver):
    """Counts the calls a test cares about; every other hook does nothing (:class:`NullObserver`)."""

    def __init__(self) -> None:
        self.reports: list[SessionReport] = []
        self.translations: Counter[str] = Counter()
        self.messages: Counter[str] = Counter()
        self.transcripts: Counter[bool] = Counter()
        self.backpressure_amounts: dict[str, float] = {}

    def session_ended(self, report: SessionReport) -> None:
        self.reports.append(report)

    def translation(self, outcome: str) -> None:
        self.translations[outcome] += 1

    def message_sent(self, message_type: str) -> None:
        self.messages[message_type] += 1

    def transcript_sent(self, engine: str, is_final: bool, seconds: float | None) -> None:
        self.transcripts[is_final] += 1

    def backpressure(self, what: str, amount: float) -> None:
        self.backpressure_amounts[what] = self.backpressure_amounts.get(what, 0.0) + amount
