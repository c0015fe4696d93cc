"""Whisper's decoding loops, cut on evidence rather than on repetition.

People repeat themselves ("no, no, no", "can you hear me, can you hear me", read-backs of a
number, "I want to check my order and I want to check my refund"), so repetition alone says
nothing. What marks a greedy decoding *loop* is how it ends and what the audio says about it.
:func:`loop_cut` cuts only when both hold:

* **Shape: a block repeated back to back up to the end.** Once Whisper starts repeating it
  repeats until the token budget or an end token, so repetition followed by other words is
  speech and is never cut. An end token stops a loop between blocks (two whole blocks needed);
  only a budget stop leaves it mid-block (the block and half of it again) or mid-word (the
  last word a prefix). The block taken is the one covering the most words, shortest first.
  Words compare case- and punctuation-blind (``"Okay,"`` = ``"okay"``).
* **Evidence, one of:**

  - ``hit_budget``: generation stopped at its token budget. Measured on 956 offline decodes
    (``base`` and ``tiny.en``, pads 0 and 10 s, espeak speech cut mid-word, short words,
    speech plus noise or tone, repeated syllables, noise): 129 of the 133 budget stops ended
    in such a tail, the other 4 were a one-word "BAMAMAMA…", dots and garbage; no whole
    sentence hit the budget.
  - The words outrun the voiced audio: more than :data:`MAX_SYLLABLE_RATE` (10) syllables per
    voiced second plus :data:`SYLLABLE_SLACK` (2). Syllables are vowel groups (digits and CJK
    characters one each), which over-counts English by ~15 %. People articulate at most ~7-8
    syllables a second; espeak at 160 words/min measured a median of 5.2 per voiced second, at
    260 words/min (faster than people talk) at most 10.0. 100 of the 129 budget-stopped loops
    outran it as well, and one loop ended by an end token was caught by it alone (12/s).
  - Alignment puts a repeated word in silence: its start is more than :data:`SILENCE_MARGIN`
    after ``speech_end``.

  A compression ratio above 2.4 (Whisper's own loop signal) is recorded but is *not*
  evidence: ten natural "yes"es compress like that, and no measured loop needed it.
* **What is kept:** everything before the loop, its first block, and as many repeats as the
  audio accounts for. With word times and ``speech_end`` (finals) a repeat counts when it starts
  inside the speech and has its own time: its last word starts at least the block's syllables
  at :data:`REPEAT_RATE` (6/s) after the last counted occurrence's, since DTW crams looped words
  into the last frames (on espeak "bye" ×4, "okay" ×3, "yes" ×5 and "thank you" ×3 this
  recovered the spoken count within one; 8/s over-counted more). Without them (partials) only
  the first block is kept. The kept words never exceed the voiced capacity, and a budget
  stop's incomplete last repeat always goes.

Pure: no I/O, no model. :mod:`.decoder` gathers the evidence and calls :func:`loop_cut`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_SYLLABLE_RATE", "REPEAT_RATE", "SILENCE_MARGIN", "SYLLABLE_SLACK", "LoopEvidence", "loop_cut"]

MAX_SYLLABLE_RATE = 10.0  # estimated syllables per voiced second no speaker reaches
SYLLABLE_SLACK = 2.0  # syllables allowed on top (VAD edges, very short utterances)
REPEAT_RATE = 6.0  # syllables per second a counted repeat needs: a fast but natural repetition
SILENCE_MARGIN = 0.2  # seconds after speech_end from which a word start is "in silence"
MAX_PERIOD = 40  # longest block (words) looked for: loops of whole sentences exist

_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœαεηιουωάέήίόύώаеёиоуыэюяєії")


@dataclass(frozen=True, slots=True)
class LoopEvidence:
    """What the decode knows besides the words (see the module docstring for how it is used)."""

    hit_budget: bool  # generation stopped because it reached its token budget
    compression_ratio: float  # utf-8 length / zlib-compressed length (recorded, not used to cut)
    voiced_seconds: float  # seconds of the decoded audio the VAD scored as speech
    word_starts: Sequence[float] | None = None  # aligned start of each word (s); None for partials
    speech_end: float | None = None  # where audible speech ends in the decoded audio (s), if known


def _norm(word: str) -> str:
    return "".join(ch for ch in word.casefold() if ch.isalnum())


def _syllables(word: str) -> int:
    """Vowel groups (digits and CJK/kana/Hangul characters count one each), at least one."""
    count, in_vowel = 0, False
    for ch in word.casefold():
        code = ord(ch)
        if ch.isdigit() or 0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7A3:
            count, in_vowel = count + 1, False
            continue
        vowel = ch in _VOWELS
        count += vowel and not in_vowel
        in_vowel = vowel
    return max(1, count)


def _tail_loop(norm: Sequence[str], stopped_mid_block: bool) -> tuple[int, int] | None:
    """``(start, period)`` of the block repeated back to back up to the end, or ``None``.

    An end token stops a loop between blocks, so the tail must hold two whole blocks; only a
    budget stop (``stopped_mid_block``) may leave the last repeat short (half a block at least)
    or its last word cut to a prefix.
    """
    n = len(norm)
    best: tuple[int, int] | None = None
    for period in range(1, min(MAX_PERIOD, n - 1) + 1):
        last, model = norm[-1], norm[-1 - period]
        # A budget stop may cut the last word anywhere, even to bare punctuation ("self-" → "-").
        if not (last == model or (stopped_mid_block and model.startswith(last))):
            continue
        start = n - 1 - period
        while start > 0 and norm[start - 1] == norm[start - 1 + period]:
            start -= 1
        needed = period + max(1, math.ceil(period / 2)) if stopped_mid_block else 2 * period
        if n - start < needed or not any(norm[start : start + period]):
            continue
        if best is None or start < best[0]:
            best = (start, period)
    return best


def loop_cut(words: Sequence[str], evidence: LoopEvidence) -> int | None:
    """Index at which to cut a looping tail (keep ``words[:i]``), or ``None`` to keep everything."""
    loop = _tail_loop([_norm(w) for w in words], evidence.hit_budget)
    if loop is None:
        return None
    start, period = loop
    n = len(words)
    syllables = [_syllables(w) for w in words]
    capacity = MAX_SYLLABLE_RATE * max(0.0, evidence.voiced_seconds) + SYLLABLE_SLACK
    starts, speech_end = evidence.word_starts, evidence.speech_end
    if starts is not None and len(starts) != n:
        starts = None
    in_silence = False
    if starts is not None and speech_end is not None:
        in_silence = any(t > speech_end + SILENCE_MARGIN for t in starts[start + period :])
    if not (evidence.hit_budget or sum(syllables) > capacity or in_silence):
        return None
    keep = start + period
    if starts is not None and speech_end is not None:
        keep += period * _accounted_repeats(starts, speech_end, start, period, syllables)
    while keep > start + period and sum(syllables[:keep]) > capacity:
        keep -= period
    return keep if keep < n else None


def _accounted_repeats(
    starts: Sequence[float], speech_end: float, start: int, period: int, syllables: Sequence[int]
) -> int:
    """How many whole repeats after the first block the aligned audio holds.

    A repeat counts when it starts inside the speech and has its own time: its last word starts
    at least the block's syllables at :data:`REPEAT_RATE` after the last counted occurrence's
    last word (DTW crams looped words into the last few frames).
    """
    block_time = sum(syllables[start : start + period]) / REPEAT_RATE
    counted_last = starts[start + period - 1]
    repeats = 0
    for begin in range(start + period, len(starts) - period + 1, period):
        last = starts[begin + period - 1]
        if starts[begin] < speech_end and last - counted_last >= block_time:
            repeats += 1
            counted_last = last
    return repeats
