"""Audio handling: G.711/L16 decoding, channel splitting, and the stream timeline."""

from .codecs import decode, decode_l16, decode_ulaw, encode_ulaw
from .timeline import StreamClock, TimelineMap

__all__ = ["StreamClock", "TimelineMap", "decode", "decode_l16", "decode_ulaw", "encode_ulaw"]
