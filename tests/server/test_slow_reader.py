"""Clients that stop reading, through the real server over real sockets on 127.0.0.1.

A client that stops reading fills its TCP receive window, then the server's send buffer; from
then on every write of the server blocks. Two writers must give up within
``CONNECTOR_SEND_TIMEOUT`` and end the session (outcome ``vanished``) with nothing left behind:

* the session's writer (``nursery/sender.py``), here answering a flood of AudioHook ``ping``\\ s
  with ``pong``\\ s it cannot deliver;
* the receiving task, which answers WebSocket ping frames (opcode 0x9) with pong frames itself
  (``websocket/connection.py``): a client that sends pings but never reads must not wedge it.

The client is raw (wsproto over a trio socket whose ``SO_RCVBUF`` is small) so that "not reading"
really means no ``recv``. Timing runs on the autojump clock: everything happens at one virtual
instant until every task is blocked, so the session must end exactly ``send_timeout`` later.
"""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from connector.simulator.builder import MessageBuilder, encode
from connector.testing.server import RunningServer, StartServer, assert_nothing_left
from tests.rawclient import MONO_EXT, ORG, headers

SEND_TIMEOUT = 2.0
CLIENT_RCVBUF = 4096
PING_FRAME = b"\x89\xfd" + b"\0\0\0\0" + b"p" * 125
"""A client's WebSocket ping with the largest control payload (125 bytes), masked with a zero key."""


def bytes_before_a_write_blocks() -> int:
    """How much a loopback writer gets out before blocking when the reader reads nothing, here.

    It depends on the kernel's buffer sizing (``tcp_wmem``, autotuning), so it is measured, not assumed.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener, socket.socket() as reader:
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)
        reader.connect(listener.getsockname())
        writer, _ = listener.accept()
        with writer:
            writer.setblocking(False)
            total, chunk = 0, b"x" * 4096
            try:
                while True:
                    total += writer.send(chunk)
            except BlockingIOError:
                return total


class SlowClient:
    """An AudioHook client over wsproto that reads only when a test says so."""

    def __init__(self, stream: trio.SocketStream, ws: WSConnection, session_id: str) -> None:
        self.stream = stream
        self.ws = ws
        self.out = MessageBuilder(session_id)
        self.broken = False

    @classmethod
    async def connect(cls, port: int) -> SlowClient:
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)  # before connect: sets the window
        with trio.fail_after(10):
            await sock.connect(("127.0.0.1", port))
        stream = trio.SocketStream(sock)
        ws = WSConnection(ConnectionType.CLIENT)
        session_id = str(uuid.uuid4())
        host = f"127.0.0.1:{port}"
        extra = headers(host, "/audiohook", session_id=session_id, api_key="open-key")
        await stream.send_all(ws.send(Request(host=host, target="/audiohook", extra_headers=extra)))
        client = cls(stream, ws, session_id)
        events = await client._events()
        assert isinstance(events[0], AcceptConnection), events
        return client

    async def _events(self) -> list[Any]:
        with trio.fail_after(10):
            while True:
                data = await self.stream.receive_some(65536)
                self.ws.receive_data(data or None)
                events = list(self.ws.events())
                if events or not data:
                    return events

    async def send(self, msg_type: str, parameters: dict[str, Any] | None = None) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(encode(self.out.message(msg_type, parameters)))))

    async def open(self) -> str:
        await self.send(
            "open",
            {
                "organizationId": ORG,
                "conversationId": str(uuid.uuid4()),
                "participant": {"id": str(uuid.uuid4()), "ani": "+15555551234", "aniName": "", "dnis": ""},
                "media": [MONO_EXT],
                "language": "en-US",
            },
        )
        text = ""
        while not text:
            text = "".join(e.data for e in await self._events() if isinstance(e, TextMessage))
        return text

    async def send_raw(self, data: bytes) -> None:
        """Send, and note (rather than raise) that the server dropped the connection."""
        try:
            await self.stream.send_all(data)
        except trio.BrokenResourceError:
            self.broken = True


async def served(start_server: StartServer) -> RunningServer:
    return await start_server(send_timeout=SEND_TIMEOUT, idle_timeout=600, open_timeout=600)


async def test_a_client_that_stops_reading_ends_send_timeout_after_the_writer_blocks(
    start_server: StartServer, autojump_clock: trio.testing.MockClock
) -> None:
    running = await served(start_server)
    client = await SlowClient.connect(running.port)
    assert '"type":"opened"' in await client.open()
    # Each ping is answered with a ~130-byte pong by the session's writer; twice what the sockets
    # hold guarantees that the writer blocks. Nothing here waits on the clock: all of it happens at
    # one virtual instant, and the clock only moves once every task (the writer too) is blocked.
    pings = 2 * bytes_before_a_write_blocks() // 130
    burst = bytearray()
    for _ in range(pings):
        burst += client.ws.send(TextMessage(encode(client.out.ping())))
    flooded = trio.current_time()
    await client.send_raw(bytes(burst))  # the server reads all of it: only its writes block
    with trio.fail_after(SEND_TIMEOUT + 30):
        await running.server.wait_idle()
    assert trio.current_time() - flooded == pytest.approx(SEND_TIMEOUT)
    assert running.server.stats.outcomes == {"vanished": 1}
    await assert_nothing_left(running)
    await client.stream.aclose()


async def test_websocket_pings_never_read_end_the_session_after_the_send_timeout(
    start_server: StartServer, autojump_clock: trio.testing.MockClock
) -> None:
    running = await served(start_server)
    client = await SlowClient.connect(running.port)
    assert '"type":"opened"' in await client.open()
    # Nothing is queued for the session's writer: only the receiving task writes (pong frames).
    pings = 2 * bytes_before_a_write_blocks() // len(PING_FRAME)
    async with trio.open_nursery() as nursery:
        # The flood ends blocked once the server stops reading too (its receiver stuck on a pong).
        nursery.start_soon(client.send_raw, PING_FRAME * pings)
        flooded = trio.current_time()
        with trio.fail_after(SEND_TIMEOUT + 30):
            await running.server.wait_idle()
        ended = trio.current_time()
        nursery.cancel_scope.cancel()
    assert ended - flooded == pytest.approx(SEND_TIMEOUT)
    assert running.server.stats.outcomes == {"vanished": 1}
    await assert_nothing_left(running)
    await client.stream.aclose()
