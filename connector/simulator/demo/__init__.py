"""The built-in demo call of ``audiohook-connector simulate --demo``.

``demo-call.wav`` is a short two-party call in real human speech: the customer on channel 0
(``external``) and the agent on channel 1 (``internal``) taking turns, 8 kHz µ-law stereo as
Genesys streams it. It ships inside the package (read with :mod:`importlib.resources`, so it
works from a wheel or a container too); ``LICENSES.md`` next to it lists every source and its
licence, and :mod:`connector.simulator.demo.build` regenerates both from ``tests/realspeech/``.

After the call the simulator prints where the server's control API returns the transcript:
:func:`conversation_url` puts the WebSocket URL's host on the API port (8081 by default).
"""

from __future__ import annotations

import urllib.parse
from importlib import resources

import numpy as np

from ..source import AudioSource
from ..wav import read_wav

__all__ = [
    "DEFAULT_API_PORT",
    "DEMO_URL",
    "DEMO_WAV",
    "conversation_url",
    "demo_source",
    "demo_wav_bytes",
    "transcript_command",
]

DEMO_URL = "ws://127.0.0.1:8080/audiohook"
"""Where ``--demo`` calls without a URL: ``./dev serve`` on this machine."""
DEFAULT_API_PORT = 8081
"""The control API's port (``CONNECTOR_API_PORT``'s default)."""
DEMO_WAV = "demo-call.wav"


def demo_wav_bytes() -> bytes:
    """The demo call as a WAV file (8 kHz µ-law, stereo: external/customer, internal/agent)."""
    return resources.files(__name__).joinpath(DEMO_WAV).read_bytes()


def demo_source() -> AudioSource:
    """The demo call, ready to stream."""
    wav = read_wav(demo_wav_bytes())
    return AudioSource(np.ascontiguousarray(wav.samples), name=DEMO_WAV)


def conversation_url(ws_url: str, conversation_id: str, api_port: int = DEFAULT_API_PORT) -> str:
    """``GET /v1/conversations/{id}`` on the WebSocket URL's host, at ``api_port``.

    ``ws://`` gives ``http://``, ``wss://`` gives ``https://``.
    """
    parts = urllib.parse.urlsplit(ws_url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{host}:{api_port}/v1/conversations/{urllib.parse.quote(conversation_id, safe='')}"


def transcript_command(ws_url: str, conversation_id: str, api_port: int = DEFAULT_API_PORT) -> str:
    """The shell command that fetches the call's transcript from the control API."""
    return f"curl -s {conversation_url(ws_url, conversation_id, api_port)}"
