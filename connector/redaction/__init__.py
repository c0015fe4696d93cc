"""PII redaction for transcripts: cards, PINs, account and social security numbers, e-mails, phone numbers.

Sans-IO and synchronous (no trio): it runs on every final, on the event loop, so it is cheap, and a
text with nothing that could be personal data returns at once. What it finds and how is in
:mod:`.detectors` and ``docs/redaction.md``; how numbers are read, written or spoken, in :mod:`.numbers`.

* :func:`find_pii` / :func:`redact_text` on plain text, :func:`redact_hypothesis` on an engine's
  :class:`~connector.vocabulary.Hypothesis` (text, word timings and a translation's original);
* :data:`Mode`, :func:`parse_mode`, :func:`call_mode`: ``off``, ``stored`` (default) or ``all``, per
  server and per call (``customConfig.redaction``).

Floor 3 (domain), beside ``protocol``: it imports only the ground floor (``vocabulary``,
``language_tags``) and ``phonenumbers``.
"""

from __future__ import annotations

from .detectors import KINDS, Finding, Kind, find_pii, phone_region
from .modes import CALL_OPTION, MODES, Mode, call_mode, parse_mode, redacts_sent, redacts_stored
from .redact import find_pii_in_hypothesis, redact_hypothesis, redact_text

__all__ = [
    "CALL_OPTION",
    "KINDS",
    "MODES",
    "Finding",
    "Kind",
    "Mode",
    "call_mode",
    "find_pii",
    "find_pii_in_hypothesis",
    "parse_mode",
    "phone_region",
    "redact_hypothesis",
    "redact_text",
    "redacts_sent",
    "redacts_stored",
]
