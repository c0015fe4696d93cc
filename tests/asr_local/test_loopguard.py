"""The loop guard (:mod:`connector.asr.local.loopguard`): people's repetitions are kept, Whisper's
decoding loops are cut. Literal cases only (no model), so this runs in milliseconds.

Natural utterances get the evidence a real decode of them would carry: no budget stop, the
compression ratio of their own text, voiced time at 2.5 or 3.5 words per second, words aligned
evenly over it after a 0.25 s pre-roll and speech ending where the last word does.

The real loops were produced offline by the engine's own decode steps (``connector.testing.speech``
espeak-ng audio → ``log_mel`` padded to ``max(pad, seconds + 1.5)`` → ``generate`` with
``beam_size=1`` and ``WhisperDecoder._token_budget`` → ``align`` → ``_timed_words`` →
``_snap_to_energy``), on the loop-prone inputs noted with each case, and are recorded as
observed: the text, whether the budget stopped generation, the compression ratio, Silero's
voiced seconds, the aligned word starts and the energy envelope's speech end. CTranslate2
4.8.5 generates at most ``max_length // 2`` tokens (measured: 10 → 5, 448 → 224), so "budget
hit" below means ``len(sequences_ids[0]) >= budget // 2``.
"""

from __future__ import annotations

import dataclasses
import zlib

import pytest

from connector.asr.local.loopguard import LoopEvidence, loop_cut


def _ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data))


def _spoken(text: str, rate: float) -> tuple[list[str], LoopEvidence]:
    """``text`` as a person says it: ``rate`` words per voiced second, aligned evenly."""
    words = text.split()
    voiced = len(words) / rate
    starts = [round(0.25 + i / rate, 3) for i in range(len(words))]
    return words, LoopEvidence(False, _ratio(text), voiced, starts, 0.25 + voiced)


def _kept(words: list[str], cut: int | None) -> str:
    return " ".join(words if cut is None else words[:cut])


# -- natural repetition comes through untouched -------------------------------------------------

NATURAL = [
    "one two three four five six",
    "I want to check the status of my order and I want to check the status of my refund please",
    "I I I think",
    "I I I I",
    "A A B one one two",
    "five five five one two one two, that's five five five one two one two",
    "the number is five five five one two one two five five five one two one two",
    "no no no",
    "no, no, no, no, no",
    "No. No. No. No. No. No.",
    "thank you thank you",
    "Thank you. Thank you. Thank you.",
    "okay thank you thank you bye bye",
    "yes yes yes",
    "bye bye",
    "okay bye bye bye",
    "very very very good",
    "can you hear me can you hear me",
    "Hello? Hello? Can you hear me? Hello? Hello?",
    "one two three one two three",
    "my card number is four four four four four four four four",
    "my pin is 4 4 4 4",
    "that's nine nine nine nine nine nine",
    "the code is 7 7 0 0 9 0 0 9 0 0",
    "zip code nine zero two one zero nine zero two one zero",
    "wait wait wait",
    "go go go go",
    "ha ha ha ha",
    "sorry sorry sorry",
    "really really really really",
    "help help help",
    "uh huh uh huh",
    "oh my god oh my god oh my god",
    "I said no, I said no",
    "it's it's it's fine",
    "the the the problem is the the router",
    "yes it is, yes it is",
    "that's right that's right",
    "la la la la la la",
    "yes yes yes yes yes yes yes yes yes yes",  # compresses like a loop (ratio > 2.4): still speech
    "sí sí sí",
    "no no no, gracias, no no",
    "claro claro",
    "ja ja ja genau",
    "nein nein nein nein",
    "danke danke",
    "merci merci",
]


@pytest.mark.parametrize("rate", [2.5, 3.5])
@pytest.mark.parametrize("text", NATURAL)
def test_natural_repetition_is_never_cut(text: str, rate: float) -> None:
    words, evidence = _spoken(text, rate)
    assert loop_cut(words, evidence) is None
    partial = dataclasses.replace(evidence, word_starts=None, speech_end=None)  # as partials see it
    assert loop_cut(words, partial) is None


def test_repetition_alone_is_not_evidence() -> None:
    text = "yes yes yes yes yes yes yes yes yes yes"
    assert _ratio(text) > 2.4  # Whisper's loop signal fires on ten natural yeses
    assert loop_cut(*_spoken(text, 3.0)) is None


def test_the_old_find_loop_example_is_speech() -> None:
    """Repetition followed by other words is never cut, whatever the other evidence says."""
    text = "I want to check the status of my order and I want to check the status of my refund please"
    words = text.split()
    damning = LoopEvidence(True, 3.0, 0.5, [0.1] + [9.0] * (len(words) - 1), 1.0)
    assert loop_cut(words, damning) is None
    assert loop_cut(words, dataclasses.replace(damning, word_starts=None, speech_end=None)) is None


def test_budget_stop_with_every_repeat_in_the_speech_keeps_them() -> None:
    """Budget hit, but each "no" has its own time inside the speech: only a partial tail goes."""
    words = ["no", "no", "no", "no"]
    starts = [0.2, 0.55, 0.9, 1.25]
    assert loop_cut(words, LoopEvidence(True, 1.5, 1.5, starts, 1.6)) is None
    words = ["can", "you", "hear", "me", "can", "you", "hear", "me", "can", "you"]
    starts = [0.2, 0.4, 0.6, 0.9, 1.3, 1.5, 1.7, 2.0, 2.5, 2.6]
    assert _kept(words, loop_cut(words, LoopEvidence(True, 1.9, 2.5, starts, 2.4))) == (
        "can you hear me can you hear me"
    )


# -- real looping decoder outputs ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Observed:
    how: str  # model, input, pad: how the decode was produced
    text: str
    hit_budget: bool
    compression_ratio: float
    voiced_seconds: float
    word_starts: list[float]
    speech_end: float | None
    kept: str  # what the guard must keep


# fmt: off
REAL_LOOPS = [
    Observed(
        "base, espeak 'thank you' (0.62 s), pad 0: 14 of 28 tokens",
        "Thank you. Thank you. Thank you. Thank you. Thank you",
        True, 2.455, 0.544, [0.08, 0.42, 0.46, 0.49, 0.59, 0.6, 0.6, 0.6, 0.6, 0.6], 0.61,
        "Thank you.",
    ),
    Observed(
        "base, 'I need to speak to someone about my bill…' cut at 33 % (1.11 s), pad 0: 17 of 34 tokens",
        "I need to speak to speak to speak to speak to speak to speak to speak to",
        True, 2.808, 1.088, [0.0, 0.11, 0.45, 0.56, 0.82, 1.04, 1.07, 1.09] + [1.1] * 9, 1.11,
        "I need to speak to speak",  # DTW gives the second "to speak" its own time (audio: "to so…")
    ),
    Observed(
        "base, same sentence cut at 50 % (1.68 s), pad 0: ended by an end token, but too many words",
        "I need to speak to someone else. I need to speak to someone else.",
        False, 1.61, 1.664, [0.0, 0.11, 0.46, 0.65, 0.97, 1.12, 1.51, 1.52, 1.53, 1.54, 1.56, 1.66, 1.66, 1.66], 1.68,
        "I need to speak to someone else.",
    ),
    Observed(
        "base, German 'ich möchte den Status meiner Bestellung prüfen' cut at 90 % (2.15 s), pad 0: "
        "the budget stops it inside the second block and inside a word",
        "es musste den Star auf meiner Bestellung kühlen. Es musste den Star auf meiner Bestellung k",
        True, 1.525, 2.144, [0.0, 0.13, 0.41, 0.72, 1.04, 1.18, 1.43, 2.03, 2.04, 2.13] + [2.14] * 6, 2.15,
        "es musste den Star auf meiner Bestellung kühlen.",
    ),
    Observed(
        "base, Spanish 'buenos días necesito hablar…' cut at 20 % (0.65 s), pad 0: the last word cut short",
        "y bueno smías, bueno smías, bueno smí",
        True, 1.577, 0.608, [0.0, 0.03, 0.42, 0.42, 0.62, 0.62, 0.62], 0.6,
        "y bueno smías,",
    ),
    Observed(
        "base, en-gb 'could you please repeat that…' cut at 33 % (0.75 s), pad 0",
        "on your clean rinse, on your clean rinse, on your clean rinse",
        True, 1.938, 0.704, [0.0, 0.19, 0.36, 0.58, 0.65, 0.66, 0.67, 0.68] + [0.72] * 4, 0.74,
        "on your clean rinse,",
    ),
    Observed(
        "base, espeak 'bye bye bye bye' (1.17 s), pad 0: four real byes, then the loop",
        "Bye bye bye bye bye bye bye bye bye bye bye bye bye bye bye bye bye",
        True, 4.25, 1.152, [0.01, 0.04, 0.3, 0.56, 0.75] + [0.84] * 10 + [0.86, 1.15], 1.14,
        "Bye bye bye bye",
    ),
    Observed(
        "base, espeak 'okay okay okay' (1.11 s), pad 0: three real okays, then the loop",
        "Okay, okay, okay, okay, okay, okay, okay, okay, okay",
        True, 2.944, 1.088, [0.0, 0.51, 0.65, 0.82, 1.08, 1.09, 1.1, 1.1, 1.1], 1.11,
        "Okay, okay, okay,",
    ),
    Observed(
        "base, espeak 'thank you' + 1 s of noise at 2 % (1.62 s), pad 0: end token; the repeat is in the noise",
        "Thank you. Thank you.",
        False, 1.048, 0.768, [0.09, 0.5, 1.05, 1.04], 0.62,
        "Thank you.",
    ),
    Observed(
        "base, 'I would like to check…' cut at 15 % (0.41 s), pad 0: 12 of 25 tokens",
        "We'll drive. We'll drive. We'll drive.",
        True, 1.625, 0.384, [0.0, 0.27, 0.26, 0.29, 0.28, 0.31], 0.41,
        "We'll drive.",
    ),
    Observed(
        "base, Italian 'buongiorno vorrei sapere…' cut at 33 % (0.91 s), pad 10",
        "non lo so, non lo so, non lo so, non lo so",
        True, 1.955, 0.864, [0.01, 0.27, 0.36, 0.48, 0.61, 0.74, 0.74, 0.74, 0.81, 0.82, 0.83, 0.88], 0.9,
        "non lo so, non lo so,",
    ),
    Observed(
        "tiny.en, 'I would like to check the status of my order please' + 1.5 s of noise at 3 %, pad 0: "
        "an 11-word sentence looping (the noise is loud enough to count as audible)",
        "I would like to check my hand as a murder please. I would like to check my hand as a murder please. "
        "I would like to check my hand as a murder",
        True, 2.328, 2.816,
        [0.0, 0.3, 0.68, 0.81, 1.13, 1.34, 1.52, 1.65, 1.79, 2.1] + [2.1] * 10 + [2.13, 2.33] + [4.22] * 10, 4.23,
        "I would like to check my hand as a murder please.",
    ),
    Observed(
        "tiny.en, 'my account number is four five six seven eight nine' cut at 80 % (2.57 s), pad 10",
        "My count number in 4 5 6 7 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8",
        True, 1.553, 2.528,
        [0.01, 0.29, 0.6, 1.22, 1.48, 1.82, 2.2, 2.4, 2.47, 2.49, 2.5, 2.51, 2.52, 2.53] + [2.54] * 10, 2.56,
        "My count number in 4 5 6 7 8",
    ),
    Observed(
        "tiny.en, 'okay so what happens next with the delivery' cut at 66 % (1.67 s), pad 0",
        "Okay, for what's happened next? Okay, for what's happened next? Okay, for",
        True, 1.721, 1.664, [0.0, 0.35, 0.74, 1.04, 1.3, 1.64, 1.65] + [1.66] * 5, 1.67,
        "Okay, for what's happened next?",
    ),
    Observed(
        "tiny.en, espeak 'no' + 1 s of noise at 2 % (1.40 s), pad 0: the loop runs on in the noise",
        "No No No No No No No No No No No No No No No No No",
        True, 3.643, 0.704, [0.1, 0.77, 1.39] + [1.38] * 14, 0.4,
        "No",
    ),
    Observed(
        "tiny.en, 'can you hear me' cut at 90 % (0.76 s), pad 0",
        "Can you dare me? Can you dare me? Can you dare me",
        True, 1.786, 0.704, [0.06, 0.23, 0.37, 0.71, 0.73] + [0.74] * 7, 0.76,
        "Can you dare me?",
    ),
]
# fmt: on


@pytest.mark.parametrize("case", REAL_LOOPS, ids=lambda case: case.text[:40])
def test_real_decoder_loops_are_cut_to_what_the_audio_holds(case: Observed) -> None:
    words = case.text.split()
    assert len(words) == len(case.word_starts)
    evidence = LoopEvidence(
        case.hit_budget, case.compression_ratio, case.voiced_seconds, case.word_starts, case.speech_end
    )
    assert _kept(words, loop_cut(words, evidence)) == case.kept
    # Without word times (a partial) only the first block stays; a budget stop still cuts.
    partial = loop_cut(words, dataclasses.replace(evidence, word_starts=None, speech_end=None))
    assert partial is not None or not case.hit_budget
    assert partial is None or case.kept.startswith(_kept(words, partial))


def test_classic_thank_you_loop_over_two_seconds() -> None:
    """16 + 12·2 + 4 = 44 tokens of budget, 22 generated: seven "Thank you." and a "Thank"."""
    words = ("Thank you. " * 8).split()[:15]
    evidence = LoopEvidence(True, _ratio(" ".join(words)), 2.0)
    assert _kept(words, loop_cut(words, evidence)) == "Thank you."
    crammed = dataclasses.replace(evidence, word_starts=[0.3, 0.6] + [1.95] * 13, speech_end=1.0)
    assert _kept(words, loop_cut(words, crammed)) == "Thank you."


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I'm sorry. I'm sorry. I'm sorry. I'm sorry. I'm sorry. I'm sorry. I'm", "I'm sorry."),
        ("so so so so so so so so so so so so so so so so", "so"),
        ("and then we and then we and then we and then we and then", "and then we"),
    ],
)
def test_classic_loops_at_the_budget(text: str, kept: str) -> None:
    words = text.split()
    assert _kept(words, loop_cut(words, LoopEvidence(True, _ratio(text), 1.0))) == kept


# -- edges --------------------------------------------------------------------------------------

BLOCK = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def test_nothing_and_one_word() -> None:
    assert loop_cut([], LoopEvidence(True, 0.0, 0.0)) is None
    assert loop_cut(["hello"], LoopEvidence(True, 0.3, 0.0)) is None
    assert loop_cut(["no", "no"], LoopEvidence(False, 0.5, 0.6, [0.1, 0.4], 0.7)) is None


@pytest.mark.parametrize("period", range(1, 11))
def test_loops_of_every_period_up_to_ten_words(period: int) -> None:
    block = BLOCK[:period]
    words = ["so", "I", "said", *block * 4, *block[: (period + 1) // 2]]  # stopped mid-block
    cut = loop_cut(words, LoopEvidence(True, 2.0, 1.5))
    assert cut == 3 + period
    # The same words ended by an end token on a block boundary, with too few voiced seconds.
    whole = words[: 3 + 4 * period]
    assert loop_cut(whole, LoopEvidence(False, 2.0, 0.2)) == 3 + period
    # And said by someone with time for all of it: kept.
    assert loop_cut(whole, LoopEvidence(False, 2.0, len(whole) / 2.5)) is None


def test_a_block_cut_mid_word_by_the_budget() -> None:
    words = ["please", "hold", "the", "line", "please", "hold", "the", "line", "please", "ho"]
    assert _kept(words, loop_cut(words, LoopEvidence(True, 1.8, 0.9))) == "please hold the line"


def test_a_budget_stop_may_leave_bare_punctuation_of_a_split_word() -> None:
    """Seen on real speech (the LibriVox sonnet, ``base``, prompted, pad 0): the tokenizer splits
    "self-substantial" into "self" + "-substantial", and the budget stopped at the "-"."""
    block = ["Feeds", "by", "light's", "flame", "with", "self", "-substantial", "fuel."]
    words = ["But", "thou", "contracted", "to", "thine", "own", "bright", "eyes.", *block * 6, *block[:5], "self", "-"]
    starts = [0.31, 0.51, 1.0, 1.82, 2.07, 2.54, 2.71, 3.0, 3.97, 4.31, 4.33, 5.04, 5.1, 5.76, 5.98, 6.95]
    starts += [7.34] * (len(words) - len(starts) - 8) + [7.68] * 8
    cut = loop_cut(words, LoopEvidence(True, 4.02, 7.07, starts, 7.34))
    assert _kept(words, cut) == "But thou contracted to thine own bright eyes. " + " ".join(block)


def test_half_blocks_and_prefixes_need_a_budget_stop() -> None:
    """Only the budget stops a loop mid-block or mid-word; an end token stops it between blocks."""
    words = ["check", "my", "order", "check", "my"]
    assert loop_cut(words, LoopEvidence(False, 1.2, 0.1)) is None
    assert _kept(words, loop_cut(words, LoopEvidence(True, 1.2, 0.1))) == "check my order"
    assert loop_cut(["I'm", "going", "to", "go"], LoopEvidence(False, 0.7, 0.0)) is None


def test_words_compare_without_case_or_punctuation() -> None:
    words = ["Okay,", "okay.", "OKAY", "okay!", "okay?", "Okay"]
    assert _kept(words, loop_cut(words, LoopEvidence(True, 1.5, 0.4))) == "Okay,"
    assert loop_cut([".", ".", ".", ".", ".", ".", ".", "."], LoopEvidence(True, 5.0, 0.5)) is None


def test_word_times_that_do_not_match_the_words_are_ignored() -> None:
    words = ["Thank", "you.", "Thank", "you.", "Thank", "you.", "Thank"]
    assert _kept(words, loop_cut(words, LoopEvidence(True, 2.0, 1.0, [0.1, 0.4], 1.0))) == "Thank you."
