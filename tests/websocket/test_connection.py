"""The trio connection over memory streams: pings, the close handshake, violations, losses."""

from __future__ import annotations

import struct

import pytest
import trio
import trio.testing
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage

from connector.websocket import CloseCode, ConnectionClosed, WebSocketConnection, encode_frame


class Peer:
    """The client side: wsproto over the other end of a memory stream pair."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = Connection(ConnectionType.CLIENT)

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.ws.send(event))

    async def events(self) -> list[Event]:
        with trio.fail_after(5):
            data = await self.stream.receive_some()
        self.ws.receive_data(data or None)
        return list(self.ws.events())


def pair(**kwargs: float) -> tuple[WebSocketConnection, Peer]:
    client, server = trio.testing.memory_stream_pair()
    return WebSocketConnection(server, **kwargs), Peer(client)  # type: ignore[arg-type]


async def test_messages_pings_and_bytes_sent_before_the_handshake_ended() -> None:
    client, server = trio.testing.memory_stream_pair()
    peer = Peer(client)
    early = peer.ws.send(TextMessage(data="early"))
    ws = WebSocketConnection(server, initial=early)
    await peer.send(Ping(payload=b"hi"))
    await peer.send(BytesMessage(data=b"\x7f" * 3200))
    with trio.fail_after(5):
        assert await ws.get_message() == "early"
        assert await ws.get_message() == b"\x7f" * 3200  # the ping was answered on the way
    assert await peer.events() == [Pong(payload=b"hi")]
    await ws.send_message('{"type":"opened"}')
    await ws.send_message(b"bin")
    events = await peer.events()
    assert [getattr(e, "data", None) for e in events] == ['{"type":"opened"}', b"bin"]


async def test_peer_close_is_echoed_and_ends_receiving() -> None:
    ws, peer = pair()
    await peer.send(CloseConnection(code=4000, reason="bye"))
    with pytest.raises(ConnectionClosed) as caught, trio.fail_after(5):
        await ws.get_message()
    assert (caught.value.code, caught.value.reason) == (4000, "bye")
    assert [(e.code, type(e)) for e in await peer.events()] == [(4000, CloseConnection)]  # type: ignore[attr-defined]
    with pytest.raises(ConnectionClosed):
        await ws.send_message("too late")
    await ws.aclose()  # already closed: just the stream
    assert await peer.stream.receive_some() == b""


async def test_violation_sends_the_close_code_and_stops() -> None:
    ws, peer = pair()
    await peer.stream.send_all(b"\x82\x02ab")  # unmasked
    with pytest.raises(ConnectionClosed) as caught, trio.fail_after(5):
        await ws.get_message()
    assert caught.value.code == CloseCode.PROTOCOL_ERROR
    data = await peer.stream.receive_some()
    assert data[0] == 0x88 and struct.unpack("!H", data[2:4])[0] == 1002


async def test_too_big_message_is_1009() -> None:
    ws, peer = pair(max_message_size=100)
    await peer.send(BytesMessage(data=b"x" * 101))
    with pytest.raises(ConnectionClosed) as caught, trio.fail_after(5):
        await ws.get_message()
    assert caught.value.code == CloseCode.TOO_BIG


async def test_lost_connection_is_1006_for_receiver_and_sender() -> None:
    ws, peer = pair()
    await peer.stream.aclose()
    with pytest.raises(ConnectionClosed) as caught, trio.fail_after(5):
        await ws.get_message()
    assert caught.value.code == CloseCode.ABNORMAL
    with pytest.raises(ConnectionClosed):
        await ws.send_message("x")


async def test_aclose_waits_for_the_peers_close_discarding_data(autojump_clock: trio.abc.Clock) -> None:
    ws, peer = pair(close_timeout=1.0)
    await peer.send(BytesMessage(data=b"in flight"))

    async def answer() -> None:
        events = await peer.events()
        assert isinstance(events[-1], CloseConnection) and events[-1].code == 1000
        await peer.send(events[-1].response())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        started = trio.current_time()
        await ws.aclose()
    assert trio.current_time() - started < 1.0  # the handshake finished; no timeout was needed
    assert ws.closed == (1000, "")


async def test_aclose_gives_up_on_a_silent_peer_after_the_timeout(autojump_clock: trio.abc.Clock) -> None:
    ws, peer = pair(close_timeout=1.0)
    started = trio.current_time()
    await ws.aclose(1011, "engine failed")
    assert trio.current_time() - started == pytest.approx(1.0)
    events = await peer.events()
    assert isinstance(events[0], CloseConnection) and (events[0].code, events[0].reason) == (1011, "engine failed")


async def test_aclose_while_another_task_receives(autojump_clock: trio.abc.Clock) -> None:
    ws, peer = pair(close_timeout=1.0)
    received: list[int] = []

    async def receiver() -> None:
        with pytest.raises(ConnectionClosed) as caught:
            await ws.get_message()
        received.append(caught.value.code)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await ws.get_message()

        async def answer() -> None:
            events = await peer.events()
            await peer.send(events[-1].response())  # type: ignore[attr-defined]

        nursery.start_soon(answer)
        await ws.aclose()
    assert received == [1000]


async def test_a_peer_that_pings_but_never_reads_is_lost_after_the_send_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A pong is written by the receiving task: a peer that never reads must not wedge it."""
    client, server = trio.testing.lockstep_stream_pair()  # a write waits until the peer reads
    ws = WebSocketConnection(server, send_timeout=2.0)
    peer = Peer(client)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.send, Ping(payload=b"are you there"))  # and never reads the pong
        started = trio.current_time()
        with pytest.raises(ConnectionClosed) as caught, trio.fail_after(10):
            await ws.get_message()
        assert caught.value.code == CloseCode.ABNORMAL
        assert trio.current_time() - started == pytest.approx(2.0)
        assert ws.closed is not None and ws.closed[0] == CloseCode.ABNORMAL
        with pytest.raises(ConnectionClosed):
            await ws.send_message("after the loss")
        closing = trio.current_time()
        await ws.aclose()  # no close frame after a half-written pong: the stream is just closed
        assert trio.current_time() == closing
        nursery.cancel_scope.cancel()


async def test_a_send_cancelled_mid_frame_ends_the_connection(autojump_clock: trio.abc.Clock) -> None:
    """The writer's own timeout (the session's ``send_timeout``) may cut a frame in half; nothing
    may follow half a frame, so the connection counts as lost and ``aclose`` writes no close."""
    client, server = trio.testing.lockstep_stream_pair()
    ws = WebSocketConnection(server, close_timeout=1.0)
    with trio.move_on_after(1.0) as scope:
        await ws.send_message("x" * 1000)  # nobody reads
    assert scope.cancelled_caught
    assert ws.closed == (CloseCode.ABNORMAL, "connection lost")
    with pytest.raises(ConnectionClosed):
        await ws.send_message("more")
    closing = trio.current_time()
    await ws.aclose()
    assert trio.current_time() == closing  # no close handshake attempted on a broken stream
    received = b""
    with trio.fail_after(1):
        while chunk := await client.receive_some():
            received += chunk
    frame = encode_frame(0x1, b"x" * 1000)
    assert frame.startswith(received)  # (part of) the cut frame, then the end: no close frame after it
