"""Where the personal data is in a text: payment cards, PINs, account and social security numbers,
e-mail addresses and phone numbers, as character spans (:class:`Finding`).

Each detector proposes candidates; :func:`find_pii` keeps a non-overlapping set, leftmost first and,
from one start, longest first (a tie goes to the more specific kind: a card before a PIN before a
phone number). The rules, and why they are shaped so:

* **card**: 13 to 19 digits that pass the Luhn check, in one run of digit groups (written or spoken,
  see :mod:`.numbers`), as the whole run or as whole groups inside it (a card followed by its expiry
  date). The Luhn check is what keeps order numbers and years out; a run that fails it is no card.
* **pin**, **account**, **ssn**: 4 to 12 digits (3 for a card security code) that are the first
  number within four words after a cue: ``pin``, ``passcode``, ``password``, ``security code``,
  ``cvv``; ``account``, ``acct``, ``routing``, ``sort code``; ``social``, ``social security``,
  ``ssn``. Without a cue, four digits are just a number ("room 1012"), so the cue is required; except
  for the written ``123-45-6789`` shape, which is a social security number wherever it appears. Words
  that make the number an amount, a date or a count ("my account balance is 2500", "opened in 2019",
  "2500 dollars") break the link between cue and number.
* **email**: written (``john.smith@example.com``) or spoken (``john dot smith at example dot com``,
  ``arobase``/``arroba``/``chiocciola``, ``point``/``punto``/``punkt``); a spoken one must end in a
  known top-level domain, and a single everyday word before a spoken "at" is no local part
  ("look at example dot com" stays).
* **phone**: what libphonenumber's :class:`phonenumbers.PhoneNumberMatcher` finds (valid numbers, in
  the region of the call's language, or international with ``+``), plus runs of 10 or more digits of
  which some were spoken and that are no card ("four one five five five five two six seven one").

Every detector ignores the markers a previous redaction left (``[card]`` is one opaque token), and
:func:`find_pii` repeats detection on the redacted text until nothing more is found, so redacting a
redacted text changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers

from ..language_tags import normalize_tag, primary_subtag
from .numbers import (
    DigitSequence,
    Token,
    digit_sequences,
    luhn_valid,
    may_have_digits,
    tokenize,
)

__all__ = ["KINDS", "Finding", "Kind", "find_pii", "phone_region"]

Kind = Literal["card", "pin", "account", "ssn", "email", "phone"]
KINDS: tuple[Kind, ...] = ("card", "pin", "account", "ssn", "email", "phone")
_PRIORITY: dict[str, int] = {
    kind: rank for rank, kind in enumerate(("card", "email", "ssn", "pin", "account", "phone"))
}
"""Which kind wins when two candidates cover exactly the same characters: the more specific one."""

_MAX_PASSES = 4
"""Detection rounds over the redacted text before giving up (in practice a second finds nothing)."""

CARD_DIGITS = range(13, 20)
CUE_DIGITS = range(4, 13)
SECURITY_CODE_DIGITS = range(3, 5)
SPOKEN_PHONE_MIN_DIGITS = 10
_PHONE_MIN_DIGITS = 7  # fewer written digits than this: libphonenumber has nothing to find (and costs ~30 µs)
_CUE_WINDOW = 4  # words allowed between a cue and its number: "my pin number is uh 1234"
_CUE_LOOKBACK = 10  # tokens looked at, punctuation included


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: its kind and the characters ``start:end`` of the text it is in.

    ``words`` is the range of word indices it covers when it was found in a hypothesis whose words
    match its text (``None`` for plain text, or when they do not match).
    """

    kind: Kind
    start: int
    end: int
    words: range | None = None

    @property
    def marker(self) -> str:
        """What replaces it: ``[card]``, ``[pin]``, …"""
        return f"[{self.kind}]"


# --- e-mail ---------------------------------------------------------------------------------------

_AT_WORDS = "at|arobase|arroba|chiocciola"
_DOT_WORDS = "dot|point|punto|punkt|ponto"
_LOCAL_WORDS = _DOT_WORDS + "|underscore|dash|hyphen|plus"
_SPOKEN_TLDS = (
    "com|net|org|edu|gov|mil|info|biz|io|ai|app|dev|co|uk|ca|au|nz|ie|fr|de|es|nl|ch|eu|ru|jp|cn|br|mx|pl|se|dk|"
    "fi|pt|za|tv"
)
# English words that often stand before "at" and are no one's mailbox ("look at", "work at", "me at").
_NOT_LOCAL = (
    "look|looking|looked|work|works|working|worked|me|us|him|her|them|you|it|is|are|was|were|be|been|am|go|going|"
    "went|visit|visiting|online|available|shop|shopping|order|ordered|buy|bought|find|found|see|seen|check|"
    "checking|sign|signed|log|logged|up|in|on|site|website|page|email|mail|address|reach|contact|register|"
    "registered|apply|here|there|that|this|also|only|just|or|and|not|stay|stayed|live|lives|living|arrive|arrived|"
    "located|based|listed|posted|booked|book|call|called|write|wrote|message|text|anyone|someone|everyone|"
    "nobody|somebody|people|staff|team|support|help|sales|office|home|school|college|university|company|store"
)
_WRITTEN_EMAIL = re.compile(
    r"(?<![\w.%+'’@-])[a-z0-9](?:[a-z0-9._%+-]*[a-z0-9_])?@"
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}(?![\w-])",
    re.IGNORECASE,
)
_LABEL = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_DOT = rf"(?:\.|\s+(?:{_DOT_WORDS})\s+)"
_AT = rf"(?:\s*@\s*|\s+(?:{_AT_WORDS})\s+)"
_DOMAIN = rf"{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}(?:{_SPOKEN_TLDS})(?![\w'’-])"
_SPOKEN_EMAIL = re.compile(
    rf"(?=[a-z0-9])(?<![\w.%+'’@\[-])"  # cheap checks first: this runs at every position
    rf"(?!(?:{_NOT_LOCAL})\s+(?:{_AT_WORDS})\s)"
    rf"[a-z0-9]+(?:(?:[._%+-]+|\s+(?:{_LOCAL_WORDS})\s+)[a-z0-9]+)*"
    rf"{_AT}{_DOMAIN}",
    re.IGNORECASE,
)
# The prefilter: an "at" or "@" (searched without surrounding whitespace, which would make the search
# quadratic in a run of spaces) followed by a domain.
_AT_ONLY = re.compile(rf"@|\b(?:{_AT_WORDS})\b", re.IGNORECASE)
_DOMAIN_ONLY = re.compile(rf"\s*{_DOMAIN}", re.IGNORECASE)


def _emails(text: str) -> list[Finding]:
    """Written and spoken addresses; the full patterns run only once an "at" is followed by a domain."""
    found = [Finding("email", m.start(), m.end()) for m in _WRITTEN_EMAIL.finditer(text)] if "@" in text else []
    for at in _AT_ONLY.finditer(text):
        if _DOMAIN_ONLY.match(text, at.end()) is not None:
            found += (Finding("email", m.start(), m.end()) for m in _SPOKEN_EMAIL.finditer(text))
            break
    return found


# --- digits: cards, cues, spoken phone numbers ----------------------------------------------------

_WRITTEN_SSN = re.compile(r"(?<![0-9-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9]|-[0-9])")
_DIGIT_RUN = re.compile(r"[0-9](?:(?:\s+|-)?[0-9])*")
"""Digits joined by spaces or a hyphen: the shape the card safety net checks whole."""
_ASCII_DIGITS = re.compile(r"[0-9]")
_ASCII_DIGIT_GROUP = re.compile(r"[0-9]+")

_PIN_CUES = frozenset({"pin", "passcode", "password"})
_SECURITY_CODE_CUES = frozenset({"cvv", "cvc", "cvn"})
_ACCOUNT_CUES = frozenset({"account", "acct", "routing"})
_CODE_QUALIFIERS = {"security": "pin", "verification": "pin", "access": "pin", "pin": "pin", "sort": "account"}


def _word_set(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string (long lists stay readable)."""
    return frozenset(words.split())


_NOT_AN_IDENTIFIER_BEFORE = _word_set(
    # Between a cue and a number, these say the number is an amount, a date or a count, not the PIN or the
    # account number itself: "my account balance is 2500", "the account was opened in 2019".
    "balance balances charged charge paid pay owe owed owes spent spend cost costs bill billed total credit debit "
    "limit fee fees deposit deposited withdrew withdrawn transfer transferred opened closed since in on for from "
    "until till about around over under by ago after before during of times"
)
_NOT_AN_IDENTIFIER_AFTER = _word_set(
    # ...and so do these right after it: "my account was charged 2500 dollars", "my pin failed 3 times".
    "dollars dollar bucks cents euros euro pounds pound quid percent times days day weeks week months month years "
    "year hours hour minutes minute seconds items people"
)


def _cue_kind(tokens: list[Token], index: int) -> tuple[Kind, range] | None:
    """The kind the word at ``index`` cues, with how many digits may follow it, or ``None``."""
    word = tokens[index].text
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    previous = tokens[index - 1].text if index > 0 and tokens[index - 1].kind == "word" else ""
    if word in _PIN_CUES:
        return "pin", CUE_DIGITS
    if word in _SECURITY_CODE_CUES:
        return "pin", SECURITY_CODE_DIGITS
    if word in _ACCOUNT_CUES:
        return "account", CUE_DIGITS
    if word in ("ssn", "social"):
        return "ssn", CUE_DIGITS
    if word in ("security", "insurance") and previous == "social":
        return "ssn", CUE_DIGITS
    if word == "code" and previous in _CODE_QUALIFIERS:
        kind: Kind = "account" if previous == "sort" else "pin"
        return kind, (SECURITY_CODE_DIGITS if previous == "security" else CUE_DIGITS)
    return None


def _cue_before(tokens: list[Token], index: int, in_groups: set[int]) -> tuple[Kind, range] | None:
    """The cue within :data:`_CUE_WINDOW` words before token ``index``, if no other number is between."""
    words = 0
    for back in range(index - 1, max(index - 1 - _CUE_LOOKBACK, -1), -1):
        token = tokens[back]
        if token.kind in ("digits", "quantity", "marker") or back in in_groups:
            return None
        if token.kind == "punct":
            continue
        if token.text in _NOT_AN_IDENTIFIER_BEFORE:
            return None
        cue = _cue_kind(tokens, back)
        if cue is not None:
            return cue
        words += 1
        if words >= _CUE_WINDOW + 1:
            return None
    return None


def _card_windows(groups: Sequence[str]) -> list[tuple[int, int]]:
    """Leftmost-longest non-overlapping windows ``[first, stop)`` of whole ``groups`` that are card numbers.

    For a written run (``4111 1111 1111 1111 12 25``: a card, then its expiry), whose groups are what
    the engine chose to write apart. See :func:`_run_cards` for spoken runs.
    """
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(groups):
        found = None
        length = 0
        ends: list[int] = []
        for stop in range(first + 1, len(groups) + 1):
            length += len(groups[stop - 1])
            if length >= CARD_DIGITS.stop:
                break
            if length >= CARD_DIGITS.start:
                ends.append(stop)
        for stop in reversed(ends):
            if luhn_valid("".join(groups[first:stop])):
                found = stop
                break
        if found is None:
            first += 1
        else:
            windows.append((first, found))
            first = found
    return windows


def _run_cards(run: DigitSequence) -> list[tuple[int, int]]:
    """The card windows of a run: any whole-group window of a written run; a spoken run whole or not at all.

    Read digit by digit, a 16-digit string has a dozen windows of 13 to 15 digits, and one in ten
    passes the Luhn check by chance: a spoken run that is no card as a whole is redacted whole as a
    phone number instead, rather than as a card with a few digits left showing.
    """
    total = sum(len(g.digits) for g in run.groups)
    if total < CARD_DIGITS.start:
        return []
    if run.spoken:
        return [(0, len(run.groups))] if total in CARD_DIGITS and luhn_valid(run.digits) else []
    return _card_windows([g.digits for g in run.groups])


def _digit_findings(text: str) -> list[Finding]:
    found: list[Finding] = []
    tokens = tokenize(text)
    runs = digit_sequences(text, tokens)
    in_groups = {index for run in runs for group in run.groups for index in range(group.first, group.last + 1)}
    for run in runs:
        windows = _run_cards(run)
        found += (Finding("card", run.groups[a].start, run.groups[b - 1].end) for a, b in windows)
        edges = [0, *(edge for window in windows for edge in window), len(run.groups)]
        for first, stop in zip(edges[::2], edges[1::2], strict=True):
            if first >= stop:
                continue
            part = run.part(first, stop)
            count = len(part.digits)
            after = run.groups[stop - 1].last + 1
            if first == 0 and (after >= len(tokens) or tokens[after].text not in _NOT_AN_IDENTIFIER_AFTER):
                cue = _cue_before(tokens, run.groups[0].first, in_groups)
                if cue is not None and count in cue[1]:
                    found.append(Finding(cue[0], part.start, part.end))
            if part.spoken and count >= SPOKEN_PHONE_MIN_DIGITS:
                found.append(Finding("phone", part.start, part.end))
    # The safety net: whatever the tokenizer made of them (a quantity, say), written digits joined by
    # spaces or hyphens hold no Luhn-valid 13-19 digits, as a whole or in whole groups.
    for match in _DIGIT_RUN.finditer(text):
        if match.end() - match.start() < CARD_DIGITS.start:
            continue
        groups = [(g.start(), g.end()) for g in _ASCII_DIGIT_GROUP.finditer(text, match.start(), match.end())]
        for first, stop in _card_windows([text[a:b] for a, b in groups]):
            found.append(Finding("card", groups[first][0], groups[stop - 1][1]))
    found += (Finding("ssn", m.start(), m.end()) for m in _WRITTEN_SSN.finditer(text))
    return found


# --- phone numbers (libphonenumber) ---------------------------------------------------------------

_LANGUAGE_REGIONS = {
    "en": "US",
    "fr": "FR",
    "de": "DE",
    "es": "ES",
    "it": "IT",
    "nl": "NL",
    "pt": "PT",
    "sv": "SE",
    "da": "DK",
    "nb": "NO",
    "no": "NO",
    "fi": "FI",
    "pl": "PL",
    "ja": "JP",
    "ko": "KR",
    "zh": "CN",
}
DEFAULT_REGION = "US"


@lru_cache(maxsize=256)
def phone_region(language: str | None) -> str:
    """The region national phone numbers are read in for a call in ``language``.

    The tag's region when libphonenumber knows it (``en-GB`` → ``GB``, ``fr-CA`` → ``CA``), else the
    main region of the language (``fr`` → ``FR``), else ``US``. Numbers written with ``+`` and a
    country code are found whatever the region.
    """
    if not language or not language.strip():
        return DEFAULT_REGION
    for part in normalize_tag(language).split("-")[1:]:
        if len(part) == 2 and part.isalpha() and part in phonenumbers.SUPPORTED_REGIONS:
            return part
    return _LANGUAGE_REGIONS.get(primary_subtag(language), DEFAULT_REGION)


def _phones(text: str, region: str) -> list[Finding]:
    if len(_ASCII_DIGITS.findall(text)) < _PHONE_MIN_DIGITS:
        return []
    return [Finding("phone", m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region)]


# --- all together ---------------------------------------------------------------------------------


def _select(candidates: list[Finding]) -> list[Finding]:
    """Non-overlapping, leftmost first, longest from one start, the more specific kind on a tie."""
    candidates.sort(key=lambda f: (f.start, -f.end, _PRIORITY[f.kind]))
    chosen: list[Finding] = []
    reached = 0
    for candidate in candidates:
        if candidate.start >= reached and candidate.end > candidate.start:
            chosen.append(candidate)
            reached = candidate.end
    return chosen


def _masked(text: str, findings: list[Finding]) -> str:
    """``text`` with the findings' characters blanked out (same length, so offsets hold)."""
    for finding in findings:
        text = text[: finding.start] + "_" * (finding.end - finding.start) + text[finding.end :]
    return text


def _detect_once(text: str, region: str) -> list[Finding]:
    candidates = _emails(text)
    if may_have_digits(text):
        digits = _digit_findings(text)
        candidates += digits
        # Cards and written SSNs are certain; libphonenumber need not look at them (it is slow on long
        # digit strings, and a phone number is never a better reading of a Luhn-valid card).
        candidates += _phones(_masked(text, [f for f in digits if f.kind in ("card", "ssn")]), region)
    return _select(candidates) if candidates else []


def apply_findings(text: str, findings: list[Finding]) -> str:
    """``text`` with each finding (sorted, non-overlapping) replaced by its marker."""
    pieces: list[str] = []
    at = 0
    for finding in findings:
        pieces.append(text[at : finding.start])
        pieces.append(finding.marker)
        at = finding.end
    pieces.append(text[at:])
    return "".join(pieces)


def _to_original(findings: list[Finding], start: int, end: int) -> tuple[int, int]:
    """The span of the original text that ``start:end`` of the redacted text came from.

    A span that touches a marker grows to the whole of what the marker replaced.
    """
    shift = 0  # original position minus redacted position, left of the current marker
    new_start: int | None = None
    new_end: int | None = None
    for finding in findings:
        marker_start = finding.start - shift
        marker_end = marker_start + len(finding.marker)
        if new_start is None:
            if start < marker_start:
                new_start = start + shift
            elif start < marker_end:
                new_start = finding.start
        if end <= marker_start:
            new_end = end + shift
            break
        if end <= marker_end:
            new_end = finding.end
            break
        shift += (finding.end - finding.start) - len(finding.marker)
    if new_start is None:
        new_start = start + shift
    if new_end is None:
        new_end = end + shift
    return new_start, new_end


def find_pii(text: str, *, language: str | None = None) -> list[Finding]:
    """Every piece of personal data in ``text``, sorted and non-overlapping (see the module docstring).

    ``language`` is the call's language tag; it only picks the region national phone numbers are read
    in (:func:`phone_region`). Cheap when there is nothing to find: a text with fewer than three
    digits, no two number words side by side and no "@"/"at" followed by a domain returns at once.
    """
    region = phone_region(language)
    findings = _detect_once(text, region)
    if not findings:
        return findings
    for _ in range(_MAX_PASSES - 1):
        more = _detect_once(apply_findings(text, findings), region)
        if not more:
            break
        grown = [Finding(f.kind, *_to_original(findings, f.start, f.end)) for f in more]
        kept = [f for f in findings if all(f.end <= g.start or f.start >= g.end for g in grown)]
        findings = _select([*kept, *grown])  # sorted; and should two grown spans meet in one marker, one wins
    return findings
