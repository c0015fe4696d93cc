"""A server-side WebSocket over a trio stream, read by the task that asks for a message.

trio-websocket gives every connection a reader task that parses frames and hands messages
over a memory channel to whoever calls ``get_message``. For a server that has one consumer
per connection (the session's receiver) that is two task switches and a channel per frame,
for nothing: here ``get_message`` reads the socket and parses in the caller's own task, and
returns every message already buffered before reading again (several frames per wake-up
when the loop is busy). Backpressure is TCP's own: nothing is read that nobody asked for.

Pings are answered and the close handshake is completed inside ``get_message``; sends are
serialised with a lock, so the session's sender and a pong never interleave bytes.

Every write is bounded. A pong (or a close echo) written by the receiving task waits at most
``send_timeout`` (the session's ``CONNECTOR_SEND_TIMEOUT``): a peer that pings but never reads
would otherwise hold the receiver forever; past it the connection counts as lost (1006) and
``get_message`` raises :class:`ConnectionClosed`. A write cut short by any cancellation (that
timeout, the sender's own ``send_timeout``, the session ending) may have left half a frame on
the wire, after which no byte can be framed again: the connection counts as lost as well, and
``aclose`` only closes the stream.
"""

from __future__ import annotations

import contextlib
import os
import threading

import trio

from .frames import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    CloseCode,
    FrameParser,
    WebSocketViolation,
    close_payload,
    encode_frame,
    parse_close,
)

__all__ = ["ConnectionClosed", "WebSocketConnection"]

RECEIVE_SIZE = 65536

_buffers = threading.local()


def _read_buffer() -> bytearray:
    """One 64 KiB read buffer per thread (per trio run), shared by all its connections.

    Reading into it and copying out the bytes actually read costs far less memory than a
    fresh 64 KiB ``bytes`` per read, which the allocator shrinks but cannot always return.
    """
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(RECEIVE_SIZE)
    return buffer


class ConnectionClosed(Exception):
    """No more messages: the close handshake happened, or the connection was lost (1006)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason


class WebSocketConnection:
    """What :mod:`connector.nursery` needs of a connection, after a completed handshake."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        initial: bytes = b"",
        max_message_size: int = 1 << 20,
        close_timeout: float = 1.0,
        send_timeout: float = 10.0,
    ) -> None:
        self._stream = stream
        self._parser = FrameParser(max_message_size)
        if initial:
            self._parser.feed(initial)
        self.close_timeout = close_timeout
        self.send_timeout = send_timeout
        """How long a pong or close echo from the receiving task may wait for the peer to read."""
        self._send_lock = trio.StrictFIFOLock()
        self._receiving = False
        self._close_sent = False
        self._closed: tuple[int, str] | None = None
        self._peer_closed = trio.Event()
        self._stream_closed = False
        self._broken = False  # a write was cut short: nothing more may be written
        # A plain socket is read directly once trio says it is readable: one wake-up and one
        # read() per batch of frames, instead of a failed recv, a wait and a second recv.
        self._socket = stream.socket if isinstance(stream, trio.SocketStream) else None

    @property
    def closed(self) -> tuple[int, str] | None:
        """(code, reason) once no more messages will come, else ``None``."""
        return self._closed

    # ------------------------------------------------------------- receiving

    async def get_message(self) -> str | bytes:
        """The next text (``str``) or binary (``bytes``) message; raises :class:`ConnectionClosed`.

        Returns a message that is already buffered without a checkpoint, so a burst of frames
        read in one ``read()`` is handled in one go; every read from the network is one.
        """
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving")
        self._receiving = True
        try:
            while True:
                if self._closed is not None:
                    raise ConnectionClosed(*self._closed)
                try:
                    message = self._parser.next_message()
                    if message is None:
                        data = await self._receive()
                        if data:
                            self._parser.feed(data)
                        else:
                            self._lost()
                        continue
                    opcode, payload = message
                    if opcode <= BINARY:
                        return payload
                    assert isinstance(payload, bytes)
                    if opcode == PING:
                        await self._send_control(PONG, payload)
                    elif opcode == CLOSE:
                        close = parse_close(payload)
                        self._closed = (close.code, close.reason)
                        self._peer_closed.set()
                        echo = CloseCode.NORMAL if close.code == CloseCode.NO_STATUS else close.code
                        await self._send_close(echo, "")
                except WebSocketViolation as exc:
                    self._closed = (exc.code, exc.reason)
                    self._peer_closed.set()
                    await self._send_close(exc.code, exc.reason)
        finally:
            self._receiving = False

    async def _receive(self) -> bytes:
        sock = self._socket
        if sock is None:
            try:
                return bytes(await self._stream.receive_some(RECEIVE_SIZE))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return b""
        buffer, fd = _read_buffer(), sock.fileno()
        while True:
            try:
                await trio.lowlevel.wait_readable(fd)
                n = os.readv(fd, (buffer,))
                return bytes(memoryview(buffer)[:n])
            except BlockingIOError:
                continue  # woken without data (rare): wait again
            except (OSError, trio.ClosedResourceError):
                return b""

    def _lost(self, reason: str = "connection lost") -> None:
        if self._closed is None:
            self._closed = (CloseCode.ABNORMAL, reason)
        self._peer_closed.set()

    # --------------------------------------------------------------- sending

    async def send_message(self, message: str | bytes) -> None:
        """Send one text or binary message; raises :class:`ConnectionClosed` once closing."""
        if self._close_sent or self._closed is not None:
            raise ConnectionClosed(*(self._closed or (CloseCode.NORMAL, "closing")))
        if isinstance(message, str):
            frame = encode_frame(TEXT, message.encode("utf-8"))
        else:
            frame = encode_frame(BINARY, bytes(message))
        await self._send_raw(frame)

    async def _send_control(self, opcode: int, payload: bytes) -> None:
        """A pong from the receiving task, within ``send_timeout`` (else the peer is lost)."""
        if not self._close_sent:
            await self._send_bounded(encode_frame(opcode, payload))

    async def _send_close(self, code: int, reason: str, *, bounded: bool = True) -> None:
        if self._close_sent:
            return
        self._close_sent = True
        frame = encode_frame(CLOSE, close_payload(code, reason))
        if bounded:
            await self._send_bounded(frame)
        else:  # the caller bounds it (``aclose``)
            with contextlib.suppress(ConnectionClosed):
                await self._send_raw(frame)

    async def _send_bounded(self, frame: bytes) -> None:
        with trio.move_on_after(self.send_timeout) as scope:
            with contextlib.suppress(ConnectionClosed):  # the reader learns of the loss on its next read
                await self._send_raw(frame)
        if scope.cancelled_caught:
            self._lost("peer not reading")

    async def _send_raw(self, frame: bytes) -> None:
        async with self._send_lock:
            if self._broken:
                raise ConnectionClosed(*(self._closed or (CloseCode.ABNORMAL, "connection lost")))
            try:
                await self._stream.send_all(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._lost()
                raise ConnectionClosed(CloseCode.ABNORMAL, "connection lost") from None
            except BaseException:  # cancelled mid-write: maybe half a frame is out
                self._broken = True
                self._lost()
                raise

    # --------------------------------------------------------------- closing

    async def aclose(self, code: int = CloseCode.NORMAL, reason: str | None = None) -> None:
        """Close handshake (bounded by ``close_timeout``), then close the stream."""
        if self._stream_closed:
            return
        try:
            if self._closed is None:
                with trio.move_on_after(self.close_timeout):
                    await self._send_close(code, reason or "", bounded=False)
                    if self._receiving:
                        await self._peer_closed.wait()
                    else:
                        while True:  # discard what is still in flight until the peer's close
                            await self.get_message()
        except ConnectionClosed:
            pass
        finally:
            self._stream_closed = True
            if self._closed is None:
                self._closed = (code, reason or "")
            await self._stream.aclose()
