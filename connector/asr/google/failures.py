"""Which gRPC failures a Google stream survives, and what the caller is told about the others.

A transient status (the service busy, a stream past its own duration limit, a dropped
connection) makes the recognizer replace the stream and replay its audio; any other status
ends the call with :func:`describe_rpc_error`'s message, which is safe to send to the client.
"""

from __future__ import annotations

import grpc

__all__ = ["TRANSIENT_CODES", "describe_rpc_error"]

TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.OUT_OF_RANGE,  # the service's own stream-duration limit
    }
)


def describe_rpc_error(error: grpc.RpcError) -> str:
    """A message safe to send to the client: status name and the service's explanation."""
    code = error.code() if isinstance(error, grpc.Call) else None
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    name = code.name if code is not None else "UNKNOWN"
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return (
            f"Google Speech rejected the credentials ({name}: {details}); check "
            "GOOGLE_APPLICATION_CREDENTIALS and the service account's Speech permissions"
        )
    return f"Google Speech error {name}: {details}"
