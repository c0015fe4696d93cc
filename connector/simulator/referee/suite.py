"""The reference jest suite's assertions on server messages (``test/api-test-utils.ts`` and its matchers).

The client session (:mod:`.rules`) answers a bad message with an ``error``; the suite asserts
more on top: counters equal to the client's (:func:`common_validations`), the media choice
(:func:`validate_media_params`), language codes (:func:`check_supported_languages`) and the
transcripts' fields and timing (:func:`transcript_validations`). Each raises ``AssertionError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .rules import LANGUAGE_CODE_RE, ClientView

__all__ = [
    "DELTA",
    "TRANSCRIPT_INFO",
    "TRANSCRIPT_INFO_LONGER",
    "check_supported_languages",
    "common_validations",
    "suite_duration",
    "transcript_validations",
    "validate_media_params",
]

# test/test-data.ts: what the suite expects from its 11 s WAV (offset, duration), delta 0.5 s.
DELTA = 0.5
TRANSCRIPT_INFO: tuple[tuple[float, float], ...] = ((0.1, 0.4), (1.1, 1.6), (2.9, 1.2), (4.9, 1.0), (6.7, 2.6))
TRANSCRIPT_INFO_LONGER: tuple[tuple[float, float], ...] = (*TRANSCRIPT_INFO[:4], (6.7, 1.3), (8.0, 1.3))


# ------------------------------------------------------------------- the jest suite's assertions


def common_validations(msg: Mapping[str, Any] | None, view: ClientView) -> None:
    """``commonValidations``: version, id, and seq/clientseq equal to the client's *current* counters."""
    assert msg is not None, "message never arrived"
    assert msg.get("version") == "2", f"Server Message's Version Number is {msg.get('version')!r}"
    assert msg.get("id") == view.session_id, f"Server Message's id is {msg.get('id')!r}"
    assert msg.get("seq") == view.serverseq, f"Server seq {msg.get('seq')} != client.serverseq {view.serverseq}"
    assert msg.get("clientseq") == view.seq, f"Server clientseq {msg.get('clientseq')} != client.seq {view.seq}"


def validate_media_params(offered: Sequence[Mapping[str, Any]], selected: Sequence[Mapping[str, Any]] | None) -> None:
    """``validateMediaParams``: empty is fine, else exactly one entry equal to an offer.

    (The suite's own loop never compares channels -- its ``continue`` only skips an inner loop
    iteration -- but the client session rejects a different channel order, so we compare them.)
    """
    if not selected:
        return
    assert len(selected) == 1, "The server selected more than 1 media format, which is not allowed."
    chosen = selected[0]
    same = ("type", "format", "rate")
    assert any(
        all(chosen.get(k) == m.get(k) for k in same) and list(chosen["channels"]) == list(m["channels"])
        for m in offered
    ), f"The server did not correctly select a media format: {chosen} not in {list(offered)}"


def check_supported_languages(opened: Mapping[str, Any] | None) -> None:
    """'Transcript Connector - Supported Languages': an array, every entry matching ``languageCodeRegex``."""
    assert opened is not None
    langs = opened["parameters"].get("supportedLanguages")
    assert isinstance(langs, list), f"supportedLanguages in the opened message is not an array: {langs!r}"
    for index, value in enumerate(langs):
        assert isinstance(value, str) and LANGUAGE_CODE_RE.match(value), (
            f"There is an invalid language code. The language code at index {index}, {value!r}, is not valid."
        )


_FLOAT_PREFIX = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def suite_duration(text: str) -> float:
    """``parseDuration``: drop ``PT`` and the last character, then ``parseFloat`` (NaN if no number)."""
    body = text[2:-1]
    match = _FLOAT_PREFIX.match(body.lstrip())
    return float(match.group(0)) if match else math.nan


def _present(obj: object, name: str, where: str) -> None:
    """``fieldToBePresent``: an own property whose value ``!= undefined`` (so null fails, 0 and '' pass)."""
    assert isinstance(obj, dict) and name in obj and obj[name] is not None, (
        f"The {name} at {where} either does not exist or is undefined."
    )


def _in_range(value: object, name: str, where: str, upper: float, lower: float) -> None:
    """``rangeToBe``: a number with ``lower <= value <= upper`` (NaN fails)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), f"The {name} at {where} is not a number"
    assert lower <= value <= upper, f"The {name} at {where} ({value}) does not fall between {lower} and {upper}."


def transcript_validations(
    transcripts: Sequence[Mapping[str, Any]],
    expected: Sequence[tuple[float, float]] | None = None,
    delta: float = DELTA,
) -> None:
    """``transcriptValidations``, checked on every transcript the client recorded (partials included).

    ``expected`` is the suite's per-WAV table of (offset, duration); ``None`` skips the count and
    timing checks for scenarios whose audio is not the suite's WAV.
    """
    if expected is not None:
        kinds = ["final" if t.get("isFinal") else "partial" for t in transcripts]
        assert len(transcripts) == len(expected), (
            f"Number of transcripts returned is {len(transcripts)} ({kinds}), the suite expects {len(expected)}"
        )
    for index, value in enumerate(transcripts):
        at = f"EventEntityDataTranscript at transcripts[{index}]"
        _present(value, "isFinal", at)
        if not value["isFinal"]:
            continue  # the suite checks nothing else on a partial
        for name in ("id", "channelId", "offset", "duration"):
            _present(value, name, at)
        if expected is not None:
            want_offset, want_duration = expected[index]
            _in_range(suite_duration(value["offset"]), "offset", at, want_offset + delta, want_offset - delta)
            _in_range(suite_duration(value["duration"]), "duration", at, want_duration + delta, want_duration - delta)
        _present(value, "alternatives", at)
        assert len(value["alternatives"]) != 0, f"number of alternatives at transcripts[{index}] is 0"
        for a, alt in enumerate(value["alternatives"]):
            where = f"EventEntityDataTranscript.alternatives[{a}] at transcripts[{index}]"
            _present(alt, "confidence", where)
            _in_range(alt["confidence"], "confidence", where, 1.0, 0.0)
            _present(alt, "interpretations", where)
            assert len(alt["interpretations"]) != 0, f"number of interpretations at {where} is 0"
            for i, interp in enumerate(alt["interpretations"]):
                where_i = f"EventEntityDataTranscript.alternatives[{a}].interpretations[{i}] at transcripts[{index}]"
                for name in ("type", "transcript", "tokens"):
                    _present(interp, name, where_i)
                seen: set[float] = set()
                for token in interp["tokens"]:
                    for name in ("type", "value", "confidence", "offset", "duration"):
                        _present(token, name, where_i)
                    off = suite_duration(token["offset"])
                    assert off not in seen, f"The offset {off} at {where_i} has already appeared"
                    seen.add(off)
