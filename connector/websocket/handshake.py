"""The server's half of the opening handshake (RFC 6455 section 4.2), with no I/O.

The HTTP head is read and routed before we get here (``connector.server.http``); this checks
what makes a request a WebSocket upgrade we can accept and writes the ``101`` answer. No
subprotocol and no extension is ever agreed (AudioHook uses neither; offering
``permessage-deflate`` is allowed and simply declined).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable

__all__ = ["HandshakeError", "accept_key", "accept_response", "check_upgrade"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeError(Exception):
    """The upgrade request is not one we can accept: answer ``status`` with this reason."""

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID, usedforsecurity=False).digest()).decode("ascii")


def check_upgrade(header: Callable[[str], str | None]) -> str:
    """Validate the upgrade headers; returns the client's key or raises :class:`HandshakeError`."""
    version = (header("sec-websocket-version") or "").strip()
    if version != "13":
        raise HandshakeError(426, "Sec-WebSocket-Version must be 13", [("Sec-WebSocket-Version", "13")])
    key = (header("sec-websocket-key") or "").strip()
    try:
        decoded = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        decoded = b""
    if len(decoded) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    return key


def accept_response(key: str) -> bytes:
    """The ``101 Switching Protocols`` head that completes the handshake."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode("ascii")
