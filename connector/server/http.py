"""The little HTTP this server speaks itself: reading a request head, writing a JSON answer.

Only what the one public port needs: ``GET /health`` (and other plain GET routes) and 4xx/5xx
refusals of WebSocket upgrades *before* the upgrade, with a JSON body saying why. Parsing is
h11's (the HTTP/1.1 parser trio-websocket itself sits on), with a bounded head size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import h11
import trio

__all__ = ["HttpError", "Request", "read_request", "send_json"]

MAX_HEAD = 16 * 1024


class HttpError(Exception):
    """The request head is malformed or too large (answer 400/431, then close)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    rest: bytes = b""
    """Bytes the client sent after the head (the first WebSocket frames, if it did not wait)."""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key == lowered:
                return value
        return None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def is_websocket_upgrade(self) -> bool:
        upgrade = (self.header("upgrade") or "").lower()
        connection = (self.header("connection") or "").lower()
        return upgrade == "websocket" and "upgrade" in connection


async def read_request(stream: trio.abc.Stream) -> Request | None:
    """Read one request head; ``None`` if the peer closed without sending one."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    raw = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            status = 431 if len(raw) > MAX_HEAD else 400
            raise HttpError(status, str(exc) or "malformed request") from None
        if event is h11.NEED_DATA:
            data = bytes(await stream.receive_some(4096))
            if not data:
                if raw:
                    raise HttpError(400, "incomplete request head")
                return None
            raw += data
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            headers = [(k.decode("latin-1").lower(), v.decode("latin-1").strip()) for k, v in event.headers]
            return Request(
                method=event.method.decode("ascii", "replace"),
                target=event.target.decode("latin-1"),
                headers=headers,
                rest=bytes(conn.trailing_data[0]),
            )
        raise HttpError(400, "unexpected data before the request head")


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


async def send_json(
    stream: trio.abc.Stream,
    status: int,
    body: Any,
    *,
    content_type: str = "application/json",
    extra_headers: list[tuple[str, str]] | None = None,
) -> None:
    """Write a complete ``Connection: close`` response; the caller then closes the stream."""
    payload = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(payload)}",
        "Connection: close",
        "Cache-Control: no-store",
    ]
    head += [f"{name}: {value}" for name, value in extra_headers or []]
    await stream.send_all(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
