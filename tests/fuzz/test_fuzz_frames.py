"""Fuzzing the RFC 6455 frame parser (``connector/websocket/frames.py``) and what the connection makes of it.

* A valid stream of client frames (fragmented messages, control frames between the fragments,
  every length encoding, any masking key) yields the same messages however its bytes are split:
  in one piece, byte by byte, or at random boundaries.
* Random bytes, and valid streams with bytes flipped, inserted or dropped, raise nothing but
  :class:`WebSocketViolation` with one of the codes the connection documents (1002 protocol
  error, 1007 invalid data, 1009 too big), and the outcome (messages, then the violation) does
  not depend on how the bytes were split either.
* The connection itself (``connection.py``), fed such bytes over a stream, ends every time with
  :class:`ConnectionClosed` and a close frame carrying one of those codes (or the peer's own).
"""

from __future__ import annotations

import struct
from itertools import pairwise
from typing import Any

import trio
from hypothesis import example, given
from hypothesis import strategies as st

from connector.websocket.connection import ConnectionClosed, WebSocketConnection
from connector.websocket.frames import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    CloseCode,
    FrameParser,
    WebSocketViolation,
    parse_close,
)

VIOLATION_CODES = {CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_DATA, CloseCode.TOO_BIG}
MAX_SIZE = 4096

Message = tuple[int, Any]
Outcome = tuple[tuple[Message, ...], int | None]


def frame(opcode: int, payload: bytes, *, fin: bool = True, key: bytes = b"\x00\x00\x00\x00", wide: int = 0) -> bytes:
    """One masked client frame; ``wide`` forces the 16-bit (1) or 64-bit (2) length even when shorter."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126 and not wide:
        head = bytes((b0, 0x80 | n))
    elif n < 65536 and wide != 2:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def run_parser(chunks: list[bytes], max_size: int = MAX_SIZE) -> Outcome:
    """Feed ``chunks`` one by one, taking every message after each; stop at the first violation.

    Close frames go through :func:`parse_close`, as the connection does. Any exception other
    than :class:`WebSocketViolation` escapes and fails the test.
    """
    parser = FrameParser(max_size)
    out: list[Message] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (message := parser.next_message()) is not None:
                opcode, payload = message
                if opcode == CLOSE:
                    assert isinstance(payload, bytes)
                    close = parse_close(payload)
                    out.append((CLOSE, (close.code, close.reason)))
                else:
                    out.append(message)
    except WebSocketViolation as violation:
        assert violation.code in VIOLATION_CODES, violation.code
        assert violation.reason
        return tuple(out), violation.code
    return tuple(out), None


def split(data: bytes, cuts: list[int], *, keep_empty: bool = False) -> list[bytes]:
    """``data`` cut at ``cuts`` (a stream never delivers an empty chunk; a fragment may be empty)."""
    points = sorted({min(c, len(data)) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(edges) if keep_empty or b > a]


# ------------------------------------------------------------------ strategies

keys = st.binary(min_size=4, max_size=4)
wide = st.sampled_from([0, 0, 0, 1, 2])
control_payload = st.binary(max_size=125)
close_body = st.one_of(
    st.just(b""),
    st.tuples(
        st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1011, 3000, 4999]), st.text(max_size=20)
    ).map(lambda cr: struct.pack("!H", cr[0]) + cr[1].encode()[:120]),
)


@st.composite
def valid_stream(draw: st.DrawFn) -> tuple[bytes, list[Message]]:
    """Client frames for a few messages, and the messages the parser must yield."""
    data, expected = b"", []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            text = draw(st.text(max_size=300))
            opcode, payload, result = TEXT, text.encode("utf-8"), (TEXT, text)
        else:
            raw = draw(st.binary(max_size=300))
            opcode, payload, result = BINARY, raw, (BINARY, raw)
        # Fragment anywhere, also inside a UTF-8 sequence; control frames may come between fragments.
        cuts = sorted(set(draw(st.lists(st.integers(0, len(payload)), max_size=4))))
        pieces = split(payload, cuts, keep_empty=True) if cuts else [payload]
        for index, piece in enumerate(pieces):
            first, last = index == 0, index == len(pieces) - 1
            data += frame(opcode if first else 0, piece, fin=last, key=draw(keys), wide=draw(wide))
            if not last and draw(st.booleans()):
                kind = draw(st.sampled_from([PING, PONG]))
                body = draw(control_payload)
                data += frame(kind, body, key=draw(keys))
                expected.append((kind, body))
        expected.append(result)
    if draw(st.booleans()):
        body = draw(close_body)
        data += frame(CLOSE, body, key=draw(keys))
        expected.append((CLOSE, (parse_close(body).code, parse_close(body).reason)))
    return data, expected


@st.composite
def mutated(draw: st.DrawFn, stream: st.SearchStrategy[tuple[bytes, list[Message]]]) -> bytes:
    data = bytearray(draw(stream)[0])
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(["flip", "insert", "drop", "set"]))
        at = draw(st.integers(0, len(data)))
        if what == "insert" or not data:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif what == "drop":
            del data[min(at, len(data) - 1)]
        elif what == "flip":
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        else:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
    return bytes(data)


cut_lists = st.lists(st.integers(0, 2000), max_size=12)


# ------------------------------------------------------------------ the parser


@given(valid_stream(), cut_lists)
def test_a_valid_stream_yields_its_messages_however_it_is_split(
    stream: tuple[bytes, list[Message]], cuts: list[int]
) -> None:
    data, expected = stream
    assert run_parser([data]) == (tuple(expected), None)
    assert run_parser(split(data, cuts)) == (tuple(expected), None)


@given(valid_stream())
def test_a_valid_stream_fed_byte_by_byte(stream: tuple[bytes, list[Message]]) -> None:
    data, expected = stream
    assert run_parser([data[i : i + 1] for i in range(len(data))]) == (tuple(expected), None)


@given(st.binary(max_size=400), cut_lists, st.integers(1, 300))
@example(b"\x81\xff" + (1 << 63).to_bytes(8, "big") + b"\0" * 4, [], 100)  # 64-bit length with the top bit
@example(b"\x82\xff" + (1 << 62).to_bytes(8, "big"), [3], 100)  # huge length: refused from the header
@example(b"\x88\x81\0\0\0\0\x03", [], 100)  # close with a 1-byte body
@example(b"\x88\x84\0\0\0\0\x03\xe8\xff\xfe", [], 100)  # close reason not UTF-8
@example(b"\x81\x82\0\0\0\0\xc3\x28", [], 100)  # text not UTF-8
def test_random_bytes_raise_only_the_documented_violations(data: bytes, cuts: list[int], max_size: int) -> None:
    whole = run_parser([data], max_size)
    assert run_parser(split(data, cuts), max_size) == whole


@given(mutated(valid_stream()), cut_lists, st.sampled_from([64, 300, MAX_SIZE]))
def test_mutated_streams_raise_only_the_documented_violations(data: bytes, cuts: list[int], max_size: int) -> None:
    whole = run_parser([data], max_size)
    assert run_parser(split(data, cuts), max_size) == whole
    assert run_parser([data[i : i + 1] for i in range(len(data))], max_size) == whole


# ------------------------------------------------------------------ the connection


class ScriptedStream(trio.abc.Stream):
    """A peer that sends ``chunks`` and then closes; records what the server writes."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.written = bytearray()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        self.written += data

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        return self.chunks.pop(0) if self.chunks else b""

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The unmasked frames the server wrote."""
    out, i = [], 0
    while i < len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        out.append((opcode, data[i : i + n]))
        i += n
    return out


def run_connection(chunks: list[bytes], max_size: int) -> tuple[list[str | bytes], tuple[int, str], bytes]:
    async def main() -> tuple[list[str | bytes], tuple[int, str], bytes]:
        stream = ScriptedStream(chunks)
        ws = WebSocketConnection(stream, max_message_size=max_size)
        messages: list[str | bytes] = []
        while True:
            try:
                messages.append(await ws.get_message())
            except ConnectionClosed as closed:
                return messages, (closed.code, closed.reason), bytes(stream.written)

    return trio.run(main)


@given(st.one_of(st.binary(max_size=300), mutated(valid_stream()), valid_stream().map(lambda s: s[0])), cut_lists)
def test_the_connection_closes_with_the_documented_code(data: bytes, cuts: list[int]) -> None:
    messages, (code, _reason), written = run_connection(split(data, cuts), 300)
    outcome, violation = run_parser([data], 300)
    if any(op == CLOSE for op, _ in outcome):  # the connection reads nothing after the peer's close
        cut = next(i for i, (op, _) in enumerate(outcome) if op == CLOSE)
        outcome, violation = outcome[: cut + 1], None
    assert messages == [p for op, p in outcome if op in (TEXT, BINARY)]
    frames = server_frames(written)
    closes = [body for opcode, body in frames if opcode == CLOSE]
    pongs = [body for opcode, body in frames if opcode == PONG]
    assert len(closes) <= 1 and all(opcode in (CLOSE, PONG) for opcode, _ in frames)
    assert pongs == [p for op, p in outcome if op == PING][: len(pongs)]
    peer_close = next((p for op, p in outcome if op == CLOSE), None)
    if peer_close is not None:  # the peer's close comes first: echoed (1005 as 1000)
        assert code == peer_close[0]
        assert closes == [struct.pack("!H", 1000 if code == CloseCode.NO_STATUS else code)]
    elif violation is not None:  # a violation: closed with its code
        assert code == violation
        assert closes and int.from_bytes(closes[0][:2], "big") == violation
    else:  # the stream just ended: lost, nothing to answer
        assert code == CloseCode.ABNORMAL and closes == []
