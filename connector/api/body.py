"""A bounded request body: refused with 413 before the application sees a byte too many.

The limit is checked twice: on ``Content-Length`` (refused without reading anything) and on the
bytes actually received, because a chunked body announces no length. The body is gathered here,
at most ``max_body`` bytes, and handed to the application in one piece, so no route, nor FastAPI's
own JSON parsing, can read an unbounded body, and the 413 is the API's JSON error rather than
whatever state a half-read body would leave a route in. After the body, ``receive`` is the
server's again: a streaming response still hears the client disconnect.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware: at most ``max_body`` bytes of request body, else 413 ``body_too_large``."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_body:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left before its body ended
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        info = f"the request body is over {self.max_body} bytes"
        response = error_response(413, "body_too_large", info, {"Connection": "close"})
        await response(scope, receive, send)
