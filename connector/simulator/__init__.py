"""An AudioHook *client* that behaves like Genesys: for tests, benchmarks and probing servers.

    from connector.simulator import AudioSource, CallConfig, run_call
    result = await run_call(CallConfig(url="ws://127.0.0.1:8080/audiohook", api_key="k"),
                            AudioSource.from_wav("call.wav"))
    assert result.ok, result.protocol_errors

``run_call`` places one call (open, stream, pings, pauses, close) and checks every server message
the way the reference client does; ``run_load`` runs many at once; ``main`` is the CLI.
"""

from .cli import main
from .client import run_call
from .config import (
    CallConfig,
    DiscardAt,
    ErrorAt,
    Injection,
    MediaOption,
    PauseAt,
    PauseMode,
    UpdateAt,
    media_offers,
    upgrade_headers,
)
from .load import LoadResult, run_load
from .result import CallResult, ProtocolError, Token, Transcript
from .source import AudioSource
from .wav import WavError, read_wav, wav_bytes, write_wav

__all__ = [
    "AudioSource",
    "CallConfig",
    "CallResult",
    "DiscardAt",
    "ErrorAt",
    "Injection",
    "LoadResult",
    "MediaOption",
    "PauseAt",
    "PauseMode",
    "ProtocolError",
    "Token",
    "Transcript",
    "UpdateAt",
    "WavError",
    "main",
    "media_offers",
    "read_wav",
    "run_call",
    "run_load",
    "upgrade_headers",
    "wav_bytes",
    "write_wav",
]
