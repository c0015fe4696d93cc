"""The light client's own WebSocket: raw frames on a non-blocking socket, without a library.

What :mod:`bench.light_client` needs to make a server do a real call's work at a fraction of a
WebSocket library's cost: the signed upgrade (:func:`connect`), masked client frames
(:func:`client_frame`), pre-built audio frames (:class:`FrameBank`) and an incremental parser
of the server's frames (:func:`parse_frame`).
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import urllib.parse

import numpy as np
import trio

from connector.audio.codecs import encode_ulaw
from connector.simulator import CallConfig, upgrade_headers
from connector.simulator.config import upgrade_target
from connector.vocabulary import SAMPLE_RATE

__all__ = ["FrameBank", "Rejected", "client_frame", "connect", "parse_frame"]

RATE = SAMPLE_RATE


def client_frame(opcode: int, payload: bytes, key: bytes | None = None) -> bytes:
    """One masked client frame (RFC 6455 section 5.2)."""
    key = key or os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    data = np.frombuffer(payload, dtype=np.uint8)
    mask = np.resize(np.frombuffer(key, dtype=np.uint8), len(data))
    return head + key + (data ^ mask).tobytes()


class FrameBank:
    """Pre-built binary frames of stereo PCMU, one per frame size."""

    def __init__(self) -> None:
        t = np.arange(RATE) / RATE
        tone = np.rint(np.sin(2 * np.pi * 1000 * t) * 0.05 * 32767).astype(np.int16)
        self._ulaw = encode_ulaw(np.repeat(tone, 2))  # interleaved stereo, 1 s
        self._frames: dict[int, bytes] = {}

    def frame(self, samples: int) -> bytes:
        data = self._frames.get(samples)
        if data is None:
            data = self._frames[samples] = client_frame(0x2, self._ulaw[: 2 * samples])
        return data


class Rejected(Exception):
    """The server did not upgrade the connection."""


async def connect(config: CallConfig) -> tuple[socket.socket, bytes]:
    parts = urllib.parse.urlsplit(config.url)
    authority, target = upgrade_target(config.url)
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {authority}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in upgrade_headers(config)),
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        code = sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80))
        if code not in (0, 115):  # 115: EINPROGRESS
            raise OSError(code, os.strerror(code))
        await trio.lowlevel.wait_writable(sock)
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, os.strerror(error))
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        while request:
            await trio.lowlevel.wait_writable(sock)
            request = request[sock.send(request) :]
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            await trio.lowlevel.wait_readable(sock)
            data = sock.recv(4096)
            if not data:
                raise Rejected("closed during the handshake")
            buffer += data
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            raise Rejected(f"HTTP {status}")
    except BaseException:
        sock.close()
        raise
    return sock, rest


def parse_frame(buf: bytearray) -> tuple[int, bytes] | None:
    """The next whole frame of ``buf`` (opcode, unmasked payload), taken off it; ``None`` until one is whole."""
    if len(buf) < 2:
        return None
    opcode, length, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, offset = struct.unpack_from("!H", buf, 2)[0], 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, offset = struct.unpack_from("!Q", buf, 2)[0], 10
    if len(buf) < offset + length:
        return None
    payload = bytes(buf[offset : offset + length])
    del buf[: offset + length]
    return opcode, payload
