"""The referee: the one port of Genesys' reference client's rules for what a server sends.

The simulator (:mod:`connector.simulator.machine`) and the conformance tests judge every server
message with it, so "the simulator is happy" and "the reference client would be happy" are the
same statement. Three parts:

* :mod:`.rules`: the reference client session (``validators.ts`` and ``clientsessionimpl.ts``):
  envelope, ``seq``, per-type parameters, and the session's reactions, each violation carrying
  the ``error`` code the reference client would answer with;
* :mod:`.transcript`: the ``transcript`` entity against its published schema;
* :mod:`.suite`: the reference jest suite's extra assertions.
"""

from .rules import (
    DISCONNECT_REASONS,
    LANGUAGE_CODE_RE,
    MAX_TEXT,
    ClientView,
    ReferenceViolation,
    check_envelope,
    check_parameters,
    check_sequence,
    check_server_message,
    decode_server_text,
    is_duration,
    is_uuid,
    js_length,
    media_matches,
    react,
)
from .suite import (
    DELTA,
    TRANSCRIPT_INFO,
    TRANSCRIPT_INFO_LONGER,
    check_supported_languages,
    common_validations,
    suite_duration,
    transcript_validations,
    validate_media_params,
)
from .transcript import TranscriptError, parse_transcript

__all__ = [
    "DELTA",
    "DISCONNECT_REASONS",
    "LANGUAGE_CODE_RE",
    "MAX_TEXT",
    "TRANSCRIPT_INFO",
    "TRANSCRIPT_INFO_LONGER",
    "ClientView",
    "ReferenceViolation",
    "TranscriptError",
    "check_envelope",
    "check_parameters",
    "check_sequence",
    "check_server_message",
    "check_supported_languages",
    "common_validations",
    "decode_server_text",
    "is_duration",
    "is_uuid",
    "js_length",
    "media_matches",
    "parse_transcript",
    "react",
    "suite_duration",
    "transcript_validations",
    "validate_media_params",
]
