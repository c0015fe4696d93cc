"""Scoring one benchmark call: finals matched to the utterances spoken, latencies, word errors.

A transcript belongs to the utterance it overlaps most (within ``MATCH_SLACK``); its latency is
measured from when the client sent the frame holding the utterance's last (or, for a partial,
first) speech sample. WER is normalised as ``connector/testing/speech.py`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.conversation import Conversation, Utterance
from connector.simulator import CallResult, Transcript
from connector.testing.speech import normalize_words, word_error_rate

__all__ = ["MATCH_SLACK", "Score", "score"]

MATCH_SLACK = 0.5
"""Seconds around an utterance within which a transcript still counts as overlapping it."""


def _overlap(t: Transcript, u: Utterance) -> float:
    if t.offset is None:
        return 0.0
    end = t.offset + (t.duration or 0.0)
    return min(end, u.last_sample_s + MATCH_SLACK) - max(t.offset, u.start_s - MATCH_SLACK)


def _match(t: Transcript, utterances: Sequence[Utterance]) -> int | None:
    """The utterance a transcript overlaps most (None: it overlaps none, e.g. a hallucination)."""
    best, index = 0.0, None
    for i, u in enumerate(utterances):
        o = _overlap(t, u)
        if o > best:
            best, index = o, i
    return index


@dataclass
class Score:
    final_latencies: list[float] = field(default_factory=list)
    partial_latencies: list[float] = field(default_factory=list)
    utterances: int = 0
    missed: int = 0  # utterances with no final at all
    unmatched_finals: int = 0
    word_errors: int = 0
    reference_words: int = 0
    partials: int = 0


def score(result: CallResult, conversation: Conversation, into: Score) -> None:
    """Latencies and word errors of one call against what it said."""
    names = ("external", "internal")
    for channel, utterances in enumerate(conversation.utterances):
        mine = [t for t in result.transcripts if t.channel == names[channel] and t.text.strip()]
        finals = sorted((t for t in mine if t.is_final), key=lambda t: t.offset or 0.0)
        last_final: dict[int, float] = {}
        first_partial: dict[int, float] = {}
        for t in finals:
            i = _match(t, utterances)
            if i is None:
                into.unmatched_finals += 1
            else:
                last_final[i] = max(last_final.get(i, t.received_at), t.received_at)
        for t in mine:
            if not t.is_final:
                into.partials += 1
                i = _match(t, utterances)
                if i is not None:
                    first_partial[i] = min(first_partial.get(i, t.received_at), t.received_at)
        for i, u in enumerate(utterances):
            into.utterances += 1
            end_sent = result.sent_at(u.last_sample_s)
            if i not in last_final:
                into.missed += 1
            elif end_sent is not None:
                into.final_latencies.append(last_final[i] - end_sent)
            start_sent = result.sent_at(u.start_s)
            if i in first_partial and start_sent is not None:
                into.partial_latencies.append(first_partial[i] - start_sent)
        reference = " ".join(u.text for u in utterances)
        hypothesis = " ".join(t.text for t in finals)
        words = len(normalize_words(reference))
        into.word_errors += round(word_error_rate(reference, hypothesis) * words)
        into.reference_words += words
