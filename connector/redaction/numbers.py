"""Digits as a transcript spells them: written (``4111 1111``, ``4111-1111``) or spoken (``four one one``).

A card, PIN or phone number reaches us in whatever form the engine chose: one engine writes
``4111 1111 1111 1111``, another ``four one one one ...``, a third ``forty one eleven ...``. The detectors
should not care, so this module turns a text into :class:`DigitSequence` objects: runs of adjacent
*groups* (``4111``, ``four``, ``forty two``, ``double five``), each with the digits it stands for and
the characters it came from. The detectors then look for cards, PINs and phone numbers in the digits and
redact the characters.

What is read as digits (English number words; written digits are language-independent):

* written digit runs ``4111``; runs joined by spaces, one hyphen or comma (``4111-1111``, ``4, 1, 1``),
  or a dot with no space around it (``4111.1111.1111``);
* ``zero`` … ``nine``; ``oh``/``o`` as zero, but only after another digit (``four oh one``, never the
  ``oh`` of "oh, I see");
* ``ten`` … ``nineteen`` (two digits), ``twenty`` … ``ninety`` alone (``40``) or with a unit
  (``forty two``, ``forty-two`` → ``42``): people read card and PIN digits one by one *or* in pairs;
* ``double five`` → ``55``, ``triple oh`` → ``000``;
* ``X hundred`` → ``X00``, composed with a following ``[and] forty [two]`` or ``twelve``
  (``four hundred twenty`` → ``420``), not with a bare unit, so the ``one eight hundred five five five``
  of a US toll-free number reads ``1 800 5 5 5``;
* fillers (``uh``, ``um``, ``er`` …) inside a run do not break it.

What is not: quantities that are plainly not dictated digits (``3:30``, ``45.99``, ``$45``, ``1,000``,
``10%``, ``21st``, ``9am``) are single tokens that end a run; ``thousand`` and ``million`` end a run
(``four thousand`` is a quantity, so only its ``4`` is a group); number words of other languages are
not read (their written digits are).

Sans-IO and cheap: one precompiled tokenizer regex and dictionary lookups, no allocation beyond the
tokens of texts that have digits or number words at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "MARKER_KINDS",
    "DigitGroup",
    "DigitSequence",
    "Token",
    "digit_sequences",
    "luhn_valid",
    "may_have_digits",
    "tokenize",
]

MARKER_KINDS = ("card", "pin", "account", "ssn", "email", "phone")
"""Every kind a redaction marker can name; a marker ``[card]`` is one opaque token to every detector,
so a second redaction of a redacted text finds nothing new in (or around) the markers."""

_TOKEN = re.compile(
    r"(?P<marker>\[(?:" + "|".join(MARKER_KINDS) + r")\])"
    # Quantities, bounded so that a 16-digit card can never hide in one: a longer run is plain digits.
    r"|(?P<quantity>"
    r"[$€£¥](?:[0-9]{1,3}(?:,[0-9]{3}){1,3}|[0-9]{1,9})(?:\.[0-9]{1,2})?(?![0-9]|[.,][0-9])"  # $45, $1,200.50
    r"|(?<![0-9]:)[0-9]{1,2}(?::[0-9]{2}){1,2}(?![0-9]|:[0-9])"  # 3:30, 10:15:00
    r"|(?<![0-9],)[0-9]{1,3}(?:,[0-9]{3}){1,3}(?:\.[0-9]{1,9})?(?![0-9]|[.,][0-9])"  # 1,000 and 1,234.50
    r"|(?<![0-9]\.)[0-9]{1,9}\.[0-9]{1,9}(?![0-9]|\.[0-9])"  # 45.99, but 4111.1111.1111 is dotted digits
    r"|[0-9]{1,6}(?:%|(?:st|nd|rd|th|am|pm)\b)"  # 10%, 21st, 9am
    r")"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)"
    r"|(?P<punct>\S)",
    re.IGNORECASE,
)


class Token(NamedTuple):
    """One token of a text, lower case; ``kind`` is ``marker``, ``quantity``, ``digits``, ``word`` or ``punct``.

    A named tuple rather than a dataclass: texts with digits are tokenized on every final, and a tuple
    is the cheapest thing Python builds.
    """

    kind: str
    start: int
    end: int
    text: str


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` (whitespace dropped), in order, with their character spans."""
    return [Token(str(m.lastgroup), m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]


UNITS = {
    "zero": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fourty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_ZERO_AFTER_DIGITS = frozenset({"oh", "o"})
_REPEAT = {"double": 2, "triple": 3}
_FILLERS = frozenset({"uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm", "mm"})
_JOINERS = frozenset({"-", ",", "."})

_NUMBERISH = frozenset({*UNITS, *TEENS, *TENS, *_ZERO_AFTER_DIGITS, *_REPEAT, "hundred"})
_ASCII_DIGIT = re.compile(r"[0-9]")
_STRIPPED = ".,!?;:\"'()[]{}…“”‘’"
_GAP = re.compile(r"(?:[\s,-]|(?:" + "|".join(sorted(_FILLERS)) + r")\b)*|\.", re.IGNORECASE)
"""What may stand between two groups of one run: spaces, a hyphen or comma, fillers; or a bare dot."""

MIN_FOUND_DIGITS = 3
"""The fewest digits any detector acts on (a card security code after its cue)."""


def may_have_digits(text: str) -> bool:
    """Whether ``text`` could hold a run of :data:`MIN_FOUND_DIGITS` or more digits, written or spoken.

    The fast path, so most utterances are never tokenized: fewer than three written digits and no
    two number words side by side ("I'll take one", "two items") cannot make such a run, because no
    single number word stands for more than two digits.
    """
    written = len(_ASCII_DIGIT.findall(text))
    if written >= MIN_FOUND_DIGITS:
        return True
    previous = False
    for raw in text.lower().replace("-", " ").split():
        word = raw.strip(_STRIPPED)
        if word in _NUMBERISH or (written and word.isdigit()):
            if previous:
                return True
            previous = True
        elif word not in _FILLERS:
            previous = False
    return False


class DigitGroup(NamedTuple):
    """One unit of a run: ``4111``, ``four``, ``forty two`` or ``double five``, and where it came from.

    ``first``/``last`` are token indices (inclusive); ``start``/``end`` the character span.
    """

    digits: str
    start: int
    end: int
    first: int
    last: int
    spoken: bool


@dataclass(frozen=True, slots=True)
class DigitSequence:
    """Adjacent groups read as one run of digits (``4111 1111 1111 1111``, ``four one five ...``)."""

    groups: tuple[DigitGroup, ...]

    @property
    def digits(self) -> str:
        return "".join(g.digits for g in self.groups)

    @property
    def start(self) -> int:
        return self.groups[0].start

    @property
    def end(self) -> int:
        return self.groups[-1].end

    @property
    def spoken(self) -> bool:
        """Whether any group came from words (the spoken-phone rule applies only to these)."""
        return any(g.spoken for g in self.groups)

    def part(self, first: int, stop: int) -> DigitSequence:
        """The groups ``first`` up to (not including) ``stop`` as a sequence of their own."""
        return DigitSequence(self.groups[first:stop])


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes; ``digits`` is ASCII digits only."""
    total = 0
    double = False
    for char in reversed(digits):
        value = ord(char) - 48
        if double:
            value *= 2
            if value > 9:
                value -= 9
        total += value
        double = not double
    return total % 10 == 0


def _word_at(tokens: Sequence[Token], index: int, text: str, after: int, *, hyphen: bool) -> int | None:
    """Index of the word token right after character ``after``: past spaces, or (if allowed) glued by a hyphen."""
    if index >= len(tokens):
        return None
    token = tokens[index]
    if hyphen and token.kind == "punct" and token.text == "-" and token.start == after:
        following = index + 1
        if following < len(tokens) and tokens[following].kind == "word" and tokens[following].start == token.end:
            return following
        return None
    if token.kind != "word" or text[after : token.start].strip() != "":
        return None
    return index


def _spoken_group(tokens: Sequence[Token], index: int, text: str, current: list[DigitGroup]) -> DigitGroup | None:
    """The group that starts with the word at ``index``, or ``None`` if that word is no number here."""
    token = tokens[index]
    word = token.text
    if word in UNITS:
        return DigitGroup(UNITS[word], token.start, token.end, index, index, spoken=True)
    if word in TEENS:
        return DigitGroup(TEENS[word], token.start, token.end, index, index, spoken=True)
    if word in TENS:
        following = _word_at(tokens, index + 1, text, token.end, hyphen=True)
        if (
            following is not None
            and tokens[following].text in UNITS
            and tokens[following].text not in ("zero", "nought")
        ):
            unit = tokens[following]
            return DigitGroup(TENS[word] + UNITS[unit.text], token.start, unit.end, index, following, spoken=True)
        return DigitGroup(TENS[word] + "0", token.start, token.end, index, index, spoken=True)
    if word in _ZERO_AFTER_DIGITS and current and _GAP.fullmatch(text, current[-1].end, token.start) is not None:
        return DigitGroup("0", token.start, token.end, index, index, spoken=True)
    if word in _REPEAT:
        following = _word_at(tokens, index + 1, text, token.end, hyphen=False)
        if following is not None:
            unit_word = tokens[following].text
            digit = UNITS.get(unit_word, "0" if unit_word in _ZERO_AFTER_DIGITS else None)
            if digit is not None:
                end = tokens[following].end
                return DigitGroup(digit * _REPEAT[word], token.start, end, index, following, spoken=True)
        elif index + 1 < len(tokens):
            nxt = tokens[index + 1]
            if nxt.kind == "digits" and len(nxt.text) == 1 and text[token.end : nxt.start].strip() == "":
                return DigitGroup(nxt.text * _REPEAT[word], token.start, nxt.end, index, index + 1, spoken=True)
    return None


def _hundred(tokens: Sequence[Token], index: int, text: str, unit: DigitGroup) -> DigitGroup | None:
    """``unit hundred [and] [forty [two] | twelve]`` as one group, if the word at ``index`` is ``hundred``."""
    token = tokens[index]
    if token.text != "hundred" or text[unit.end : token.start].strip() != "":
        return None
    hundreds = DigitGroup(unit.digits + "00", unit.start, token.end, unit.first, index, spoken=True)
    following = _word_at(tokens, index + 1, text, token.end, hyphen=False)
    if following is not None and tokens[following].text == "and":
        following = _word_at(tokens, following + 1, text, tokens[following].end, hyphen=False)
    if following is None:
        return hundreds
    word = tokens[following].text
    if word in TEENS:
        return DigitGroup(unit.digits + TEENS[word], unit.start, tokens[following].end, unit.first, following, True)
    if word in TENS:
        rest = _spoken_group(tokens, following, text, [])
        if rest is not None:
            return DigitGroup(unit.digits + rest.digits, unit.start, rest.end, unit.first, rest.last, spoken=True)
    return hundreds


def digit_sequences(text: str, tokens: Sequence[Token] | None = None) -> list[DigitSequence]:
    """Every run of adjacent digit groups in ``text``, in order (a lone group is a run of one)."""
    if tokens is None:
        tokens = tokenize(text)
    runs: list[DigitSequence] = []
    current: list[DigitGroup] = []

    def flush() -> None:
        if current:
            runs.append(DigitSequence(tuple(current)))
            current.clear()

    index = 0
    while index < len(tokens):
        token = tokens[index]
        group: DigitGroup | None = None
        if token.kind == "digits":
            group = DigitGroup(token.text, token.start, token.end, index, index, spoken=False)
        elif token.kind == "word":
            if (
                token.text == "hundred"
                and current
                and current[-1].spoken
                and len(current[-1].digits) == 1
                and current[-1].digits != "0"
            ):
                composed = _hundred(tokens, index, text, current[-1])
                if composed is not None:
                    current[-1] = composed
                    index = composed.last + 1
                    continue
            group = _spoken_group(tokens, index, text, current)
            if group is None:
                if token.text in _FILLERS and current:
                    index += 1
                    continue
                flush()
                index += 1
                continue
        elif token.kind == "punct" and token.text in _JOINERS and current:
            index += 1
            continue
        else:
            flush()
            index += 1
            continue
        if current and _GAP.fullmatch(text, current[-1].end, group.start) is None:
            flush()
        current.append(group)
        index = group.last + 1
    flush()
    return runs
