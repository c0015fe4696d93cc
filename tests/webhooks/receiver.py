"""A real, scriptable webhook receiver on 127.0.0.1 (trio + h11), with an OAuth2 token endpoint.

* ``script``: the next answers, in order (:class:`Reply`: a status, headers, a delay before
  answering, or a dropped connection); once it is empty, ``default`` (200).
* :meth:`Receiver.down` closes the port (connections are refused) and :meth:`Receiver.up` opens
  the same port again.
* With ``secret``, each request is verified with ``standardwebhooks.Webhook(secret).verify``; a
  request that fails is answered 401 and recorded with ``verified=False``.
* With ``tls``, connections are TLS (give a server context that requires a client certificate
  for mutual TLS); failed handshakes are counted.
* With ``tokens``, ``POST /token`` is a client-credentials endpoint and the hook wants its bearer.

Every request to the hook is recorded in arrival order (:attr:`Receiver.received`), answered or not.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import h11
import standardwebhooks
import trio

__all__ = ["Received", "Receiver", "Reply", "Tokens"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (longer than the client's timeout: a slow receiver)."""
    drop: bool = False
    """Close the connection without answering."""
    body: bytes | None = None
    """What to answer (default: a small JSON object on 200, nothing otherwise)."""


@dataclass(frozen=True)
class Received:
    id: str | None
    body: bytes
    headers: dict[str, str]
    at: float
    """``trio.current_time()`` when the request arrived."""
    status: int | None
    """What it was answered (``None``: dropped)."""
    verified: bool | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Tokens:
    """A client-credentials token endpoint's state: credentials, lifetimes, what it issued."""

    client_id: str = "connector"
    client_secret: str = "s3cret/+="
    expires_in: float = 3600.0
    """What it tells the client."""
    valid_for: float | None = None
    """How long a token is really accepted (``None``: ``expires_in``)."""
    fetches: int = 0
    forms: list[dict[str, list[str]]] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)

    def issue(self, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        form = parse_qs(body.decode())
        self.forms.append(form)
        expected = f"{self.client_id}:{self.client_secret}"
        scheme, _, encoded = authorization.partition(" ")
        given = base64.b64decode(encoded).decode() if scheme.lower() == "basic" and encoded else ""
        user, _, password = given.partition(":")
        if f"{unquote_plus(user)}:{unquote_plus(password)}" != expected:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        self.fetches += 1
        token = f"token-{self.fetches}"
        lifetime = self.expires_in if self.valid_for is None else self.valid_for
        self.issued[token] = trio.current_time() + lifetime
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}

    def accepts(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme == "Bearer" and self.issued.get(token, -1.0) > trio.current_time()

    def revoke_all(self) -> None:
        self.issued.clear()


class Receiver:
    def __init__(
        self,
        *,
        secret: str | None = None,
        tls: ssl.SSLContext | None = None,
        tokens: Tokens | None = None,
        path: str = "/hook",
    ) -> None:
        self.secret = secret
        self.tls = tls
        self.tokens = tokens
        self.path = path
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.received: list[Received] = []
        self.handshake_failures = 0
        self.port = 0
        self._scope: trio.CancelScope | None = None
        self._closed = trio.Event()
        """Set once the port and every connection of the last :meth:`up` are closed."""
        self._nursery: trio.Nursery | None = None
        self._news = trio.Event()

    async def until(self, condition: Callable[[Receiver], bool], *, within: float = 10.0) -> None:
        """Wait until ``condition(self)`` holds, re-checked at each request the receiver records."""
        with trio.fail_after(within):
            while not condition(self):
                await self._news.wait()
                self._news = trio.Event()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{self.path}"

    @property
    def token_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/token"

    def answer(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def ids(self, *, answered: int | None = 200) -> list[str | None]:
        return [r.id for r in self.received if answered is None or r.status == answered]

    def bodies(self, *, answered: int | None = 200) -> list[Any]:
        return [r.json for r in self.received if answered is None or r.status == answered]

    # ------------------------------------------------------------- up and down

    async def start(self, nursery: trio.Nursery) -> Receiver:
        self._nursery = nursery
        await self.up()
        return self

    async def up(self) -> None:
        assert self._nursery is not None and self._scope is None
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        self._scope, self._closed = trio.CancelScope(), trio.Event()
        self._nursery.start_soon(self._serve, listeners, self._scope, self._closed)

    async def down(self) -> None:
        """Close the port and every open connection (returning once they are closed): new
        connections are refused, and a client's kept-alive connection is seen closed."""
        assert self._scope is not None
        self._scope.cancel()
        self._scope = None
        await self._closed.wait()

    async def _serve(self, listeners: list[trio.SocketListener], scope: trio.CancelScope, closed: trio.Event) -> None:
        try:
            with scope:
                try:
                    await trio.serve_listeners(self._connection, listeners)  # its connections' tasks too
                finally:
                    for listener in listeners:
                        await trio.aclose_forcefully(listener)
        finally:
            closed.set()

    # ------------------------------------------------------------- HTTP

    async def _connection(self, stream: trio.abc.Stream) -> None:
        if self.tls is not None:
            stream = trio.SSLStream(stream, self.tls, server_side=True)
            try:
                with trio.fail_after(5):
                    await stream.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError):
                self.handshake_failures += 1
                await trio.aclose_forcefully(stream)
                return
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await _read_request(connection, stream)
                if request is None:
                    return
                status, headers, content = await self._handle(request, body)
                if status is None:
                    return
                await stream.send_all(connection.send(h11.Response(status_code=status, headers=headers)))
                await stream.send_all(connection.send(h11.Data(data=content)))
                await stream.send_all(connection.send(h11.EndOfMessage()))
                if connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return
        finally:
            await trio.aclose_forcefully(stream)

    async def _handle(self, request: h11.Request, body: bytes) -> tuple[int | None, list[tuple[str, str]], bytes]:
        headers = {name.decode().lower(): value.decode() for name, value in request.headers}
        target = request.target.decode()
        if self.tokens is not None and target == "/token":
            status, answer = self.tokens.issue(headers.get("authorization", ""), body)
            return status, [("content-type", "application/json")], json.dumps(answer).encode()
        reply = self.script.popleft() if self.script else self.default
        verified = None
        status: int | None = reply.status
        if self.secret is not None:
            try:
                standardwebhooks.Webhook(self.secret).verify(body, headers)
                verified = True
            except standardwebhooks.WebhookVerificationError:
                verified, status = False, 401
        if self.tokens is not None and not self.tokens.accepts(headers.get("authorization", "")):
            status = 401
        if reply.drop:
            status = None
        self.received.append(Received(headers.get("webhook-id"), body, headers, trio.current_time(), status, verified))
        self._news.set()
        if reply.delay:
            await trio.sleep(reply.delay)
        content = reply.body if reply.body is not None else b'{"ok":true}' if status == 200 else b""
        return status, list(reply.headers.items()), content


async def _read_request(connection: h11.Connection, stream: trio.abc.Stream) -> tuple[h11.Request | None, bytes]:
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            connection.receive_data(data)  # b"" is the end of the stream
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None, b""
