"""Handshake security: HTTP Message Signature verification and API-key policy, sans-IO.

Nothing here reads a clock or a socket; the trio server passes ``now`` and the request parts,
and applies :data:`FAILURE_DELAY` before reporting a failure.
"""

from .authenticator import (
    ALLOWED_DERIVED_COMPONENTS,
    FAILURE_DELAY,
    ApiKey,
    Authenticator,
    AuthResult,
    parse_api_keys,
)
from .nonces import NonceCache
from .signature import (
    REFERENCE_COMPONENTS,
    InnerList,
    SignatureFormatError,
    compute_signature,
    parse_signature,
    parse_signature_input,
    sign_request,
    signature_base,
)

__all__ = [
    "ALLOWED_DERIVED_COMPONENTS",
    "FAILURE_DELAY",
    "REFERENCE_COMPONENTS",
    "ApiKey",
    "AuthResult",
    "Authenticator",
    "InnerList",
    "NonceCache",
    "SignatureFormatError",
    "compute_signature",
    "parse_api_keys",
    "parse_signature",
    "parse_signature_input",
    "sign_request",
    "signature_base",
]
