"""``handshake_timeout``: a client that never finishes its HTTP request head is dropped.

Real sockets against the real server on 127.0.0.1, port 0, with the timeout set small. The
bounds are lower bounds measured from before the connection was opened (the server's clock for
the timeout starts at accept, later), so a busy machine can only make them hold more easily;
the upper bound is a generous ``fail_after`` that only says "dropped at all".
"""

from __future__ import annotations

import trio

from connector.testing.server import RunningServer, StartServer, assert_nothing_left
from tests.server.test_handshake import http_request

TIMEOUT = 0.3
DROPPED_WITHIN = 10.0  # far above TIMEOUT: a server that never drops the client fails this


async def until_dropped(stream: trio.SocketStream) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    with trio.fail_after(DROPPED_WITHIN):
        try:
            while chunk := await stream.receive_some(65536):
                received += chunk
        except trio.BrokenResourceError:
            pass  # a reset: our last bytes met the closed socket
    return received


async def idle_server(start_server: StartServer) -> RunningServer:
    return await start_server(handshake_timeout=TIMEOUT)


async def test_a_request_head_that_never_ends_is_dropped(start_server: StartServer) -> None:
    running = await idle_server(start_server)
    began = trio.current_time()
    async with await trio.open_tcp_stream("127.0.0.1", running.port) as stream:
        await stream.send_all(b"GET /audiohook HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        with trio.move_on_after(TIMEOUT / 2):
            assert await stream.receive_some(65536) == b"never", "the server answered an unfinished head"
        assert await until_dropped(stream) == b""  # dropped without an answer
    assert trio.current_time() - began >= TIMEOUT
    await assert_nothing_left(running)
    assert running.server.stats.http_requests == 0 and running.server.stats.sessions_total == 0


async def test_a_silent_client_and_a_slow_drip_are_dropped_while_others_are_served(
    start_server: StartServer,
) -> None:
    """Nothing at all, or a byte at a time (each well inside the timeout): the timeout is for the
    whole head, and a connection waiting out its timeout holds nobody else up."""
    running = await idle_server(start_server)
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    outcomes: dict[str, bytes] = {}
    began = trio.current_time()

    async def silent() -> None:
        async with await trio.open_tcp_stream("127.0.0.1", running.port) as stream:
            outcomes["silent"] = await until_dropped(stream)

    async def drip() -> None:
        async with await trio.open_tcp_stream("127.0.0.1", running.port) as stream:
            try:
                for byte in head[:-2]:  # all but the final CRLF, so never complete
                    await stream.send_all(bytes([byte]))
                    await trio.sleep(TIMEOUT / 10)
            except trio.BrokenResourceError:
                pass  # dropped mid-drip
            outcomes["drip"] = await until_dropped(stream)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(silent)
        nursery.start_soon(drip)
        await trio.sleep(TIMEOUT / 3)
        status, _, _ = await http_request(running.port, head.decode())
        assert status == 200  # served while the two others hang
    assert outcomes == {"silent": b"", "drip": b""}
    assert trio.current_time() - began >= TIMEOUT
    await assert_nothing_left(running)
    assert running.server.stats.http_requests == 1
