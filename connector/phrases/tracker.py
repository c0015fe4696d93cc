"""Each phrase once per utterance and rule, in bounded memory.

A rule on partials matches the same words in every partial that follows, and in the final; a
receiver wants one ``phrase.detected`` for them. :class:`PhraseTracker` remembers which rules were
reported for each open utterance (a key the caller chooses: the session uses ``(track, utterance
number)``) and forgets the utterance at its final. An engine that never finalises an utterance
(a dropped stream) must not grow it without end: at most ``max_open`` utterances are remembered,
and the one unheard of the longest is forgotten first. A track holds one or two utterances open
at a time, so only a track with far more than ``max_open`` open utterances could see a phrase twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence

from ..vocabulary import Hypothesis
from .matcher import PhraseMatch, match_hypothesis
from .rules import CompiledRule

__all__ = ["DEFAULT_MAX_OPEN", "PhraseDetector", "PhraseTracker"]

DEFAULT_MAX_OPEN = 64
"""Open utterances remembered per tracker (one tracker per session)."""


class PhraseTracker:
    """Which rules were reported for which open utterance."""

    def __init__(self, max_open: int = DEFAULT_MAX_OPEN) -> None:
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.max_open = max_open
        self._open: OrderedDict[Hashable, set[str]] = OrderedDict()

    def __len__(self) -> int:
        """Utterances remembered now."""
        return len(self._open)

    def reported(self, key: Hashable, rule_id: str) -> bool:
        """Whether ``rule_id`` was already reported for the (open) utterance ``key``."""
        seen = self._open.get(key)
        return seen is not None and rule_id in seen

    def fresh(self, key: Hashable, matches: Iterable[PhraseMatch], *, final: bool) -> list[PhraseMatch]:
        """The ``matches`` of utterance ``key`` not reported before (the first of each rule).

        ``final``: the utterance ends with this result and is forgotten.
        """
        seen = self._open.pop(key, None) or set()
        out = []
        for match in matches:
            if match.rule_id not in seen:
                seen.add(match.rule_id)
                out.append(match)
        if seen and not final:
            self._open[key] = seen  # newest last
            while len(self._open) > self.max_open:
                self._open.popitem(last=False)
        return out

    def forget(self, key: Hashable) -> None:
        """Drop utterance ``key`` (it ended without a final)."""
        self._open.pop(key, None)

    def clear(self) -> None:
        self._open.clear()


class PhraseDetector:
    """The rules of a session and its tracker: a result in, the phrases to report out.

    The rules can be replaced while the session runs (:meth:`replace`: the API changed them);
    what was reported for an open utterance stays reported, by rule id.
    """

    def __init__(self, rules: Iterable[CompiledRule] = (), *, max_open: int = DEFAULT_MAX_OPEN) -> None:
        self._rules: tuple[CompiledRule, ...] = tuple(rules)
        self.tracker = PhraseTracker(max_open)

    @property
    def rules(self) -> Sequence[CompiledRule]:
        return self._rules

    def replace(self, rules: Iterable[CompiledRule]) -> None:
        self._rules = tuple(rules)

    def detect(
        self,
        key: Hashable,
        hypothesis: Hypothesis,
        *,
        role: str | None,
        language: str | None = None,
        to_stream: Callable[[float], float] | None = None,
    ) -> list[PhraseMatch]:
        """The phrases of ``hypothesis`` (utterance ``key``, a channel of ``role``) to report now.

        ``language`` is the track's, used when the result names none. A final always reaches the
        tracker, even when nothing matches, so its utterance is forgotten.
        """
        if not self._rules:
            if hypothesis.is_final:
                self.tracker.forget(key)
            return []
        matches = match_hypothesis(
            self._rules, hypothesis, role=role, language=language, to_stream=to_stream,
            skip=lambda rule_id: self.tracker.reported(key, rule_id),
        )  # fmt: skip
        return self.tracker.fresh(key, matches, final=hypothesis.is_final)
