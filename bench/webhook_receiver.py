"""The webhook benchmark's receiver: answers 200 at once and notes when each request arrived.

``tests/webhooks/receiver.py`` is scriptable (failures, delays, TLS, OAuth, signature checks);
a benchmark needs none of that, only the arrival time of every request at the lowest cost, because
it runs on the load generator's core beside a thousand calls. So this one parses with ``h11``
(keep-alive, as the deliverer's pooled client uses it), keeps each body as bytes and decodes
nothing until the run is over (:meth:`Arrival.event`).

Two clocks per arrival: ``wall`` (``time.time()``) to compare with the server's ``sentAt`` (also
wall clock, same machine), and ``at`` (``trio.current_time()``) to compare with what this process
itself timed, such as when a call's audio was streamed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import h11
import trio

__all__ = ["Arrival", "Receiver"]

_OK = h11.Response(status_code=200, headers=[("content-length", "0")])


@dataclass(frozen=True, slots=True)
class Arrival:
    wall: float
    """``time.time()`` once the whole request was read."""
    at: float
    """``trio.current_time()`` at the same instant."""
    id: str
    """The ``webhook-id`` header (the same on every attempt of one delivery)."""
    body: bytes

    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


@dataclass
class Receiver:
    """``POST`` anything to ``http://127.0.0.1:<port>/...``: 200, recorded in :attr:`arrivals`."""

    arrivals: list[Arrival] = field(default_factory=list)
    port: int = 0
    ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    """Requests whose ``webhook-id`` had arrived before (at least once: allowed, and counted)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def serve(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on a free loopback port (reported to ``nursery.start``) until cancelled."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = int(listeners[0].socket.getsockname()[1])
        task_status.started(self.port)
        await trio.serve_listeners(self._connection, listeners)

    def _record(self, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        wall, at = time.time(), trio.current_time()
        delivery = next((v.decode() for k, v in headers if k == b"webhook-id"), "")
        if delivery in self.ids:
            self.duplicates += 1
        self.ids.add(delivery)
        self.arrivals.append(Arrival(wall, at, delivery, body))

    async def _connection(self, stream: trio.SocketStream) -> None:
        connection = h11.Connection(h11.SERVER)
        headers: list[tuple[bytes, bytes]] = []
        body: list[bytes] = []
        try:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Request):
                    headers, body = list(event.headers), []
                elif isinstance(event, h11.Data):
                    body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    self._record(headers, b"".join(body))
                    await stream.send_all(connection.send(_OK) + connection.send(h11.EndOfMessage()))
                    if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                        return  # the client asked to close
                    connection.start_next_cycle()
                else:  # ConnectionClosed, PAUSED
                    return
        except (h11.ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()
