"""Fuzzing the HTTP head reader (``connector/server/http.py``) and the upgrade checks (``websocket/handshake.py``).

* Random bytes, and valid upgrade heads with bytes flipped, inserted or dropped, however they
  arrive: :func:`read_request` returns a request, returns ``None`` (nothing was sent), or raises
  :class:`HttpError` with 400 or 431, which the server answers with that status. Nothing else.
* A valid head parses to the same request however it is split, and the bytes after it (the
  client's first WebSocket frames) are kept, whole and in order, in ``rest`` plus what is still
  unread.
* :func:`check_upgrade` on any header values returns the key or raises :class:`HandshakeError`
  with 400 or 426; whatever key it returns, :func:`accept_response` can answer it.
"""

from __future__ import annotations

from itertools import pairwise

import trio
from hypothesis import example, given
from hypothesis import strategies as st

from connector.server.http import MAX_HEAD, HttpError, Request, read_request
from connector.websocket.handshake import HandshakeError, accept_response, check_upgrade

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


class ChunkStream(trio.abc.Stream):
    """A client that sends ``chunks`` one per read, then closes its side."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = [c for c in chunks if c]

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        if not self.chunks:
            return b""
        chunk = self.chunks[0]
        size = len(chunk) if max_bytes is None else max_bytes
        self.chunks[0] = chunk[size:]
        if not self.chunks[0]:
            self.chunks.pop(0)
        return chunk[:size]

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def read(chunks: list[bytes]) -> tuple[Request | int | None, bytes]:
    """The request (or the HttpError's status) and the bytes the reader left unread."""

    async def main() -> tuple[Request | int | None, bytes]:
        stream = ChunkStream(chunks)
        try:
            request: Request | int | None = await read_request(stream)
        except HttpError as error:
            assert error.status in (400, 431), error.status
            assert str(error)
            request = error.status
        return request, b"".join(stream.chunks)

    return trio.run(main)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted({min(c, len(data)) for c in cuts}), len(data)]
    return [data[a:b] for a, b in pairwise(edges) if b > a]


token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=20)
header_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)


@st.composite
def upgrade_head(draw: st.DrawFn) -> bytes:
    """A well-formed upgrade request head, with extra headers in any order."""
    target = "/" + draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/?=&%.-_~", max_size=40))
    headers = [
        ("Host", draw(st.sampled_from(["example.com", "127.0.0.1:8080", "AudioHook.Example.com"]))),
        ("Upgrade", "websocket"),
        ("Connection", draw(st.sampled_from(["Upgrade", "keep-alive, Upgrade", "upgrade"]))),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", KEY),
        *draw(st.lists(st.tuples(token.map(lambda t: "X-" + t), header_value), max_size=6)),
    ]
    headers = draw(st.permutations(headers))
    lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        at = min(draw(st.integers(0, len(data))), len(data) - 1)
        what = draw(st.sampled_from(["flip", "insert", "drop", "crlf"]))
        if what == "flip":
            data[at] = draw(st.integers(0, 255))
        elif what == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif what == "crlf":
            data[at:at] = draw(st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\n\r\n", b":", b" ", b"\0"]))
        else:
            del data[at]
    return bytes(data)


cuts = st.lists(st.integers(0, 600), max_size=10)
frames = st.binary(max_size=40)


@given(st.one_of(st.binary(max_size=600), mutated(upgrade_head())), cuts)
@example(b"", [])
@example(b"GET / HTTP/1.1\r\n", [])  # incomplete head, then the client closes
@example(b"\r\n\r\n", [])
@example(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab", [])  # a body is not our business
@example(b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: " + b"a" * (2 * MAX_HEAD) + b"\r\n\r\n", [4096])  # 431
@example(b"GET / HTTP/1.1\r\nHost: \xff\xfe\r\nX-\xe9: \x80\r\n\r\n", [])  # not ASCII: read as Latin-1
def test_any_bytes_give_a_request_nothing_or_the_documented_refusal(data: bytes, cuts: list[int]) -> None:
    request, _ = read(split(data, cuts))
    assert request is None or isinstance(request, int | Request)
    if data == b"":
        assert request is None
    if isinstance(request, Request):
        request.header("sec-websocket-key")  # every accessor the server uses works on what came out
        assert isinstance(request.path, str) and isinstance(request.is_websocket_upgrade, bool)


@given(upgrade_head(), frames, cuts)
def test_a_valid_head_parses_the_same_however_it_is_split(head: bytes, after: bytes, cut_at: list[int]) -> None:
    whole, unread = read([head + after])
    assert isinstance(whole, Request) and whole.is_websocket_upgrade
    assert whole.rest + unread == after
    request, unread = read(split(head + after, cut_at))
    assert isinstance(request, Request)
    assert (request.method, request.target, request.headers) == (whole.method, whole.target, whole.headers)
    assert request.rest + unread == after  # the first frames are neither lost nor reordered
    assert check_upgrade(request.header) == KEY


@given(
    st.dictionaries(
        st.sampled_from(["sec-websocket-version", "sec-websocket-key"]),
        st.one_of(st.text(max_size=40), st.sampled_from(["13", " 13 ", KEY, " " + KEY, KEY[:-2], KEY + "=="])),
    )
)
@example({"sec-websocket-version": "13", "sec-websocket-key": "ÿÿÿÿ"})  # Latin-1 from the head reader
@example({"sec-websocket-version": "13", "sec-websocket-key": "AAAAAAAAAAAAAAAAAAAAAA=="})
def test_check_upgrade_returns_a_usable_key_or_the_documented_refusal(headers: dict[str, str]) -> None:
    try:
        key = check_upgrade(headers.get)
    except HandshakeError as error:
        assert error.status in (400, 426) and error.reason
        return
    assert accept_response(key).startswith(b"HTTP/1.1 101 ")


def test_a_head_over_the_limit_is_431_and_a_truncated_one_400() -> None:
    """The statuses the examples above reach, asserted (a fuzzer only sees that they are allowed)."""
    big = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * (2 * MAX_HEAD)
    assert read([big + b"\r\n\r\n"])[0] == 431
    assert read([big])[0] == 431
    assert read([b"GET / HTTP/1.1\r\nHost: a\r\n"])[0] == 400
    assert read([b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"])[0] == 400  # a TLS hello on the plain port
