"""The server's WebSocket (RFC 6455): sans-IO framing and handshake, and a thin trio connection.

The simulator and the tests keep using trio-websocket as the *client*, so every server test
is also an interoperability test against an independent implementation (wsproto).
"""

from .connection import ConnectionClosed, WebSocketConnection
from .frames import CloseCode, FrameParser, WebSocketViolation, encode_frame
from .handshake import HandshakeError, accept_response, check_upgrade

__all__ = [
    "CloseCode",
    "ConnectionClosed",
    "FrameParser",
    "HandshakeError",
    "WebSocketConnection",
    "WebSocketViolation",
    "accept_response",
    "check_upgrade",
    "encode_frame",
]
