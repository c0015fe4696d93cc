"""RFC 6455 framing for the server side, with no I/O: client frames in, messages out.

Why our own and not wsproto's: on the protocol path every audio frame crosses this code, and
at a thousand calls per core that is over ten thousand frames a second. wsproto builds several
event objects per frame and trio-websocket adds a reader task and a memory channel per
connection; under load together they were the largest share of the server's CPU (the profile
before and after is in docs/performance.md, "Where the time goes now").
A server only ever *parses masked client frames* and *writes unmasked frames*, without
extensions, so the whole job is this module. It is strict where the RFC is (a violation
closes the connection with the RFC's code) and tested against wsproto-based clients.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BINARY",
    "CLOSE",
    "PING",
    "PONG",
    "TEXT",
    "CloseCode",
    "FrameParser",
    "WebSocketViolation",
    "close_payload",
    "encode_frame",
    "parse_close",
]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA = (TEXT, BINARY)
_CONTROL = (CLOSE, PING, PONG)


class CloseCode:
    """The status codes this server sends (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    NO_STATUS = 1005  # never sent: stands for "the close frame had no code"
    ABNORMAL = 1006  # never sent: the TCP connection ended without a close frame
    INVALID_DATA = 1007
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011


class WebSocketViolation(Exception):
    """The client broke RFC 6455: close with ``code`` and stop reading.

    Named for the layer it belongs to: a broken *frame* is answered with a WebSocket close code,
    while :class:`connector.protocol.ProtocolViolation` is a broken *AudioHook message*, answered
    with a ``disconnect`` one layer up.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


def unmask(data: bytes, key: bytes, offset: int = 0, length: int | None = None) -> bytes:
    """``length`` bytes of ``data`` from ``offset``, XORed with the 4-byte key.

    One numpy XOR over a view (no slice copy): several times faster than a big-integer XOR, and
    orders of magnitude faster than a Python loop (timings in docs/performance.md, "Small costs").
    """
    n = len(data) - offset if length is None else length
    if n <= 0:
        return b""
    mask = np.frombuffer(key * ((n >> 2) + 1), dtype=np.uint8, count=n)
    return (np.frombuffer(data, dtype=np.uint8, count=n, offset=offset) ^ mask).tobytes()


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


def close_payload(code: int, reason: str = "") -> bytes:
    """A close frame's body; the reason is cut to fit a control frame's 125 bytes."""
    data = reason.encode("utf-8")[:123]
    return struct.pack("!H", code) + data.decode("utf-8", "ignore").encode("utf-8")


def _valid_close_code(code: int) -> bool:
    # Section 7.4: 1000-1003, 1007-1011 (plus the later-registered 1012-1014) and 3000-4999.
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


def parse_close(payload: bytes) -> Close:
    """The peer's close frame: (code, reason); a body of one byte or a bad code is a violation."""
    if not payload:
        return Close(CloseCode.NO_STATUS, "")
    if len(payload) == 1:
        raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, "close frame with a 1-byte body")
    code = int.from_bytes(payload[:2], "big")
    if not _valid_close_code(code):
        raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketViolation(CloseCode.INVALID_DATA, "close reason is not UTF-8") from None
    return Close(code, reason)


class FrameParser:
    """Turns bytes from a client into whole messages: ``(opcode, payload)``.

    Data messages come out reassembled (``TEXT`` as ``str``, ``BINARY`` as ``bytes``); control
    frames come out as they arrive, also in the middle of a fragmented message. Sizes are
    checked from the frame header, before the payload is buffered.
    """

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self._data = b""
        self._offset = 0
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._fragment_size = 0

    @property
    def buffered(self) -> int:
        return len(self._data) - self._offset

    def feed(self, data: bytes) -> None:
        if self._offset >= len(self._data):
            self._data = data
        else:
            self._data = self._data[self._offset :] + data
        self._offset = 0

    def next_message(self) -> tuple[int, str | bytes] | None:
        """The next complete message, or ``None`` until more bytes are fed."""
        while True:
            frame = self._next_frame()
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode >= CLOSE:
                return opcode, payload
            if opcode == CONTINUATION:
                if not self._fragment_opcode:
                    raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, "continuation frame without a message")
                self._fragments.append(payload)
                self._fragment_size += len(payload)
                if not fin:
                    continue
                opcode, payload = self._fragment_opcode, b"".join(self._fragments)
                self._fragments, self._fragment_opcode, self._fragment_size = [], 0, 0
            elif self._fragment_opcode:
                raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, "new message inside a fragmented one")
            elif not fin:
                self._fragment_opcode, self._fragments, self._fragment_size = opcode, [payload], len(payload)
                continue
            if opcode == BINARY:
                return BINARY, payload
            try:
                return TEXT, payload.decode("utf-8")
            except UnicodeDecodeError:
                raise WebSocketViolation(CloseCode.INVALID_DATA, "text message is not UTF-8") from None

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        data, o = self._data, self._offset
        available = len(data) - o
        if available < 2:
            return None
        b0, b1 = data[o], data[o + 1]
        opcode = b0 & 0x0F
        if b0 & 0x70:
            raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, "reserved bits set (no extension was agreed)")
        if not b1 & 0x80:
            raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, "client frame is not masked")
        fin = bool(b0 & 0x80)
        n = b1 & 0x7F
        head = 6
        if opcode >= CLOSE:
            if opcode not in _CONTROL:
                raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
            if not fin or n > 125:
                raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, "fragmented or oversized control frame")
        elif opcode not in _DATA and opcode != CONTINUATION:
            raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
        elif n == 126:
            if available < 4:
                return None
            n = (data[o + 2] << 8) | data[o + 3]
            head = 8
        elif n == 127:
            if available < 10:
                return None
            n = int.from_bytes(data[o + 2 : o + 10], "big")
            if n >> 63:
                raise WebSocketViolation(CloseCode.PROTOCOL_ERROR, "frame length has its top bit set")
            head = 14
        if opcode < CLOSE and n + (self._fragment_size if opcode == CONTINUATION else 0) > self.max_message_size:
            raise WebSocketViolation(CloseCode.TOO_BIG, f"message over {self.max_message_size} bytes")
        end = o + head + n
        if len(data) < end:
            return None
        self._offset = end
        return fin, opcode, unmask(data, data[o + head - 4 : o + head], o + head, n)
