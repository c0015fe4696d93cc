"""µ-law/L16 codecs, de-interleaving, and the stream timeline."""

from __future__ import annotations

import numpy as np

from connector.audio.codecs import decode, decode_channels, decode_l16, decode_ulaw, deinterleave, encode_ulaw
from connector.audio.timeline import StreamClock, TimelineMap


def test_ulaw_table_matches_g711_reference_points() -> None:
    decoded = decode_ulaw(bytes([0xFF, 0x7F, 0x00, 0x80, 0xF0]))
    # 0xFF/0x7F are the two zeros, 0x00/0x80 the extremes, 0xF0 is +120 (ITU-T G.711 table)
    assert decoded.tolist() == [0, 0, -32124, 32124, 120]


def test_ulaw_round_trip_error_is_within_quantisation() -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-32000, 32000, 8000).astype(np.int16)
    back = decode_ulaw(encode_ulaw(pcm)).astype(np.int32)
    error = np.abs(back - pcm)
    # µ-law steps grow with magnitude: 1/16 of the value plus a small constant bounds the error
    assert (error <= np.abs(pcm.astype(np.int32)) / 16 + 16).all()


def test_every_ulaw_code_round_trips() -> None:
    codes = bytes(range(256))
    again = encode_ulaw(decode_ulaw(codes))
    # 0x7F and 0xFF both mean zero; every other code maps back to itself
    assert [a for a, b in zip(codes, again, strict=True) if a != b] == [0x7F]


def test_l16_is_little_endian() -> None:
    assert decode_l16(b"\x01\x00\xff\xff").tolist() == [1, -1]
    assert decode(b"\x01\x00", "L16").tolist() == [1]


def test_deinterleave() -> None:
    left, right = deinterleave(np.array([1, 2, 3, 4, 5, 6], dtype=np.int16), 2)
    assert left.tolist() == [1, 3, 5] and right.tolist() == [2, 4, 6]
    assert left.flags["C_CONTIGUOUS"]


def test_decode_channels_equals_decode_then_deinterleave() -> None:
    frame = bytes(range(256)) * 3
    for fmt, channels in (("PCMU", 1), ("PCMU", 2), ("PCMU", 3), ("L16", 2)):
        fused = decode_channels(frame, fmt, channels)
        separate = deinterleave(decode(frame, fmt), channels)
        assert [c.tolist() for c in fused] == [c.tolist() for c in separate]
        assert all(c.flags["C_CONTIGUOUS"] and c.dtype == np.int16 for c in fused)


def test_stream_clock_counts_samples_and_gaps() -> None:
    clock = StreamClock()
    clock.advance(8000)
    clock.discard(1.0, 0.5)
    assert clock.position == 1.5
    assert not clock.resync(1.51)  # within tolerance
    assert clock.resync(3.0) and clock.position == 3.0


def test_timeline_map_spans_gaps() -> None:
    timeline = TimelineMap()
    timeline.feed(0, 8000)  # stream 0-1 s
    timeline.feed(8000, 4000)  # contiguous
    timeline.feed(5 * 8000, 8000)  # gap: stream 5-6 s is fed as 1.5-2.5 s
    assert timeline.to_stream(0.5) == 0.5
    assert timeline.to_stream(1.25) == 1.25
    assert timeline.to_stream(1.5) == 5.0
    assert timeline.to_stream(2.0) == 5.5


def long_call_with_gaps(timeline: TimelineMap, gaps: int, *, on_final: int = 0) -> list[tuple[int, int]]:
    """``gaps`` stretches of 100 ms fed, each followed by 60 ms of stream not fed (a dropped chunk);
    every ``on_final`` stretches a final ends, and the caller forgets what came a minute before it.
    Returns (fed sample, stream sample) at the start of every stretch, to check against."""
    starts: list[tuple[int, int]] = []
    stream = 0
    for n in range(gaps):
        starts.append((timeline.fed, stream))
        timeline.feed(stream, 800)
        stream += 800 + 480
        if on_final and n % on_final == on_final - 1:
            timeline.forget_before(timeline.fed - 60 * 8000)
    return starts


def test_forgetting_before_a_final_keeps_the_map_bounded_and_recent_times_exact() -> None:
    timeline = TimelineMap()
    starts = long_call_with_gaps(timeline, 20_000, on_final=50)  # 33 minutes, a gap every 100 ms
    assert len(timeline) <= 60 * 10 + 50 + 1  # the last minute of stretches, and those since the final
    assert timeline.forgotten == 20_000 - len(timeline)
    for fed, stream in starts[-len(timeline) :]:  # every stretch still kept maps exactly
        assert timeline.to_stream(fed / 8000) == stream / 8000
        assert timeline.to_stream((fed + 799) / 8000) == (stream + 799) / 8000


def test_without_finals_the_cap_bounds_the_map_and_keeps_recent_gaps_exact() -> None:
    timeline = TimelineMap(max_entries=1000)
    starts = long_call_with_gaps(timeline, 20_000)  # no final ever: only the cap prunes
    assert 500 <= len(timeline) <= 1000
    for fed, stream in starts[-500:]:
        assert timeline.to_stream(fed / 8000) == stream / 8000
    # What the cap collapsed maps as if contiguous with the oldest stretch kept: late, never early.
    fed, stream = starts[0]
    assert timeline.to_stream(fed / 8000) > stream / 8000


def test_forget_before_keeps_the_stretch_that_contains_the_time() -> None:
    timeline = TimelineMap()
    timeline.feed(0, 8000)
    timeline.feed(2 * 8000, 8000)  # fed 1-2 s is stream 2-3 s
    timeline.feed(5 * 8000, 8000)  # fed 2-3 s is stream 5-6 s
    timeline.forget_before(1.5 * 8000)
    assert len(timeline) == 2
    assert timeline.to_stream(1.5) == 2.5 and timeline.to_stream(2.5) == 5.5
    timeline.forget_before(0)  # never un-forgets, never fails
    assert len(timeline) == 2
