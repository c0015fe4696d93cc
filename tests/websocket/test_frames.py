"""The sans-IO framing against wsproto (an independent implementation) and against the RFC's rules."""

from __future__ import annotations

import random
import struct

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage

from connector.websocket.frames import (
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
    unmask,
)


def client() -> Connection:
    return Connection(ConnectionType.CLIENT)


def masked(opcode: int, payload: bytes, *, first: int | None = None, key: bytes = b"\x11\x22\x33\x44") -> bytes:
    """A client frame built by hand, for what wsproto refuses to send."""
    b0 = 0x80 | opcode if first is None else first
    n = len(payload)
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def drain(parser: FrameParser) -> list[tuple[int, str | bytes]]:
    out = []
    while (message := parser.next_message()) is not None:
        out.append(message)
    return out


def test_unmask_matches_the_rfc_definition() -> None:
    rng = random.Random(1)
    for n in (0, 1, 3, 4, 5, 125, 126, 3200, 65537):
        payload, key = rng.randbytes(n), rng.randbytes(4)
        assert unmask(payload, key) == bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        assert unmask(b"head" + payload + b"tail", key, 4, n) == unmask(payload, key)  # a view, not a slice


def test_messages_from_wsproto_in_every_size_class() -> None:
    ws = client()
    sent: list[tuple[int, str | bytes]] = [
        (TEXT, '{"type":"open","é":"ü"}'),
        (BINARY, b""),
        (BINARY, bytes(range(256)) * 12),  # 3072 bytes: a 200 ms stereo PCMU frame's size class
        (BINARY, b"x" * 70000),  # 64-bit length
        (TEXT, ""),
    ]
    wire = b"".join(
        ws.send(TextMessage(data=p) if op == TEXT else BytesMessage(data=p))  # type: ignore[arg-type]
        for op, p in sent
    )
    parser = FrameParser(1 << 20)
    parser.feed(wire)
    assert drain(parser) == sent
    assert parser.buffered == 0


def test_any_split_of_the_byte_stream_gives_the_same_messages() -> None:
    rng = random.Random(7)
    ws = client()
    sent: list[tuple[int, str | bytes]] = []
    wire = b""
    for _ in range(60):
        if rng.random() < 0.5:
            text = "".join(rng.choice("aé€😀{}") for _ in range(rng.randrange(0, 300)))
            sent.append((TEXT, text))
            wire += ws.send(TextMessage(data=text))
        else:
            data = rng.randbytes(rng.choice((0, 10, 125, 126, 1000, 3200, 66000)))
            sent.append((BINARY, data))
            wire += ws.send(BytesMessage(data=data))
    for _ in range(20):
        parser, got, i = FrameParser(1 << 20), [], 0
        while i < len(wire):
            step = rng.choice((1, 2, 3, 7, 100, 5000))
            parser.feed(wire[i : i + step])
            i += step
            got += drain(parser)
        assert got == sent


def test_fragmented_messages_are_joined_and_controls_may_interleave() -> None:
    ws = client()
    wire = ws.send(TextMessage(data="hel", message_finished=False))
    wire += ws.send(Ping(payload=b"p1"))
    wire += ws.send(TextMessage(data="lo €", message_finished=True))
    wire += ws.send(BytesMessage(data=b"ab", message_finished=False))
    wire += ws.send(BytesMessage(data=b"cd", message_finished=True))
    parser = FrameParser(1 << 20)
    parser.feed(wire)
    assert drain(parser) == [(PING, b"p1"), (TEXT, "hello €"), (BINARY, b"abcd")]


def test_a_utf8_character_split_across_fragments_is_fine() -> None:
    euro = "€".encode()
    parser = FrameParser(100)
    parser.feed(masked(TEXT, euro[:1], first=TEXT) + masked(0, euro[1:]))
    assert drain(parser) == [(TEXT, "€")]


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (b"\x82\x02ab", CloseCode.PROTOCOL_ERROR),  # not masked
        (masked(BINARY, b"ab", first=0xC2), CloseCode.PROTOCOL_ERROR),  # RSV1 without an extension
        (masked(3, b"ab"), CloseCode.PROTOCOL_ERROR),  # reserved data opcode
        (masked(0xB, b"ab"), CloseCode.PROTOCOL_ERROR),  # reserved control opcode
        (masked(PING, b"x" * 126), CloseCode.PROTOCOL_ERROR),  # control frame over 125 bytes
        (masked(PING, b"x", first=PING), CloseCode.PROTOCOL_ERROR),  # fragmented control frame
        (masked(0, b"x"), CloseCode.PROTOCOL_ERROR),  # continuation with nothing to continue
        (masked(TEXT, b"a", first=TEXT) + masked(BINARY, b"b"), CloseCode.PROTOCOL_ERROR),  # interleaved
        (masked(TEXT, b"\xff\xfe"), CloseCode.INVALID_DATA),  # not UTF-8
        (b"\x82\xff" + struct.pack("!Q", 1 << 63) + b"kkkk", CloseCode.PROTOCOL_ERROR),  # length top bit
    ],
)
def test_violations_close_with_the_rfc_code(wire: bytes, code: int) -> None:
    parser = FrameParser(1 << 20)
    parser.feed(wire)
    with pytest.raises(WebSocketViolation) as caught:
        drain(parser)
    assert caught.value.code == code


def test_oversized_messages_are_refused_from_the_header_alone() -> None:
    parser = FrameParser(1000)
    parser.feed(b"\x82\xff" + struct.pack("!Q", 10**9))  # no payload yet: nothing is buffered for it
    with pytest.raises(WebSocketViolation) as caught:
        parser.next_message()
    assert caught.value.code == CloseCode.TOO_BIG
    fragments = FrameParser(1000)
    fragments.feed(masked(BINARY, b"x" * 600, first=BINARY) + masked(0, b"x" * 600))
    with pytest.raises(WebSocketViolation) as caught:
        drain(fragments)
    assert caught.value.code == CloseCode.TOO_BIG
    exact = FrameParser(1000)
    exact.feed(masked(BINARY, b"x" * 1000))
    assert drain(exact) == [(BINARY, b"x" * 1000)]


def test_close_frames() -> None:
    assert parse_close(b"").code == CloseCode.NO_STATUS
    close = parse_close(struct.pack("!H", 1000) + "bye é".encode())
    assert (close.code, close.reason) == (1000, "bye é")
    assert parse_close(struct.pack("!H", 4001)).code == 4001
    for bad in (b"\x03", struct.pack("!H", 1005), struct.pack("!H", 999), struct.pack("!H", 2999)):
        with pytest.raises(WebSocketViolation) as caught:
            parse_close(bad)
        assert caught.value.code == CloseCode.PROTOCOL_ERROR
    with pytest.raises(WebSocketViolation) as caught:
        parse_close(struct.pack("!H", 1000) + b"\xff")
    assert caught.value.code == CloseCode.INVALID_DATA
    long = close_payload(1011, "é" * 200)
    assert len(long) <= 125 and parse_close(long).reason == "é" * 61


def test_server_frames_parse_in_wsproto() -> None:
    ws = client()
    ws.receive_data(
        encode_frame(TEXT, "héllo".encode())
        + encode_frame(BINARY, b"z" * 200)
        + encode_frame(BINARY, b"y" * 70000)
        + encode_frame(PONG, b"p")
        + encode_frame(CLOSE, close_payload(1000, "done"))
    )
    events = list(ws.events())
    assert [type(e) for e in events[:3]] == [TextMessage, BytesMessage, BytesMessage]
    assert isinstance(events[0], Message) and events[0].data == "héllo"
    assert len(events[2].data) == 70000  # type: ignore[union-attr]
    assert isinstance(events[-1], CloseConnection) and events[-1].code == 1000 and events[-1].reason == "done"
