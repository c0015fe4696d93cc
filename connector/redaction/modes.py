"""Where redaction applies: ``off``, ``stored`` (the default) or ``all``.

Genesys keeps the transcripts it receives under its own retention and access rules, while the
connector's store and webhooks are ours to protect; so the default, ``stored``, redacts what the
connector keeps and hands on (the transcript store, webhooks, exports) and sends Genesys what was said,
and ``all`` redacts the transcripts sent back to Genesys as well. A server sets its default; a call may
choose its own with ``customConfig.redaction``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["CALL_OPTION", "MODES", "Mode", "call_mode", "parse_mode", "redacts_sent", "redacts_stored"]

Mode = Literal["off", "stored", "all"]
MODES: tuple[Mode, ...] = ("off", "stored", "all")
CALL_OPTION = "redaction"
"""The ``customConfig`` key a call names its mode with."""


def parse_mode(value: object) -> Mode:
    """``value`` as a :data:`Mode` (any case, surrounding spaces ignored).

    Anything else is a :class:`ValueError` that names the allowed values, so a typo in a server's
    environment or a call's ``customConfig`` is refused rather than silently meaning "off".
    """
    if isinstance(value, str):
        wanted = value.strip().lower()
        for mode in MODES:
            if wanted == mode:
                return mode
    raise ValueError(f"redaction must be one of {', '.join(MODES)}, not {value!r}")


def call_mode(options: Mapping[str, Any], default: Mode) -> Mode:
    """The mode for one call: ``customConfig.redaction`` if the call sets it, else the server's ``default``.

    A present but invalid value is a :class:`ValueError` (the call is refused with its message) rather
    than the default, because a call that asked for redaction and mistyped it must not go unredacted.
    ``null`` counts as not set.
    """
    value = options.get(CALL_OPTION)
    if value is None:
        return default
    try:
        return parse_mode(value)
    except ValueError:
        raise ValueError(f"customConfig.{CALL_OPTION} must be one of {', '.join(MODES)}, not {value!r}") from None


def redacts_stored(mode: Mode) -> bool:
    """Whether what the connector stores and hands on (store, webhooks, exports) is redacted."""
    return mode != "off"


def redacts_sent(mode: Mode) -> bool:
    """Whether the transcripts sent back to Genesys are redacted too."""
    return mode == "all"
