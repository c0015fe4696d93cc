"""Genesys Cloud AudioHook Transcription Connector.

The package is split the way the design card asks: ``protocol`` holds the sans-IO session
state machine, ``audio`` the codecs and timeline, ``asr`` the engine interface and engines,
``nursery`` the trio orchestration of one session, ``server`` the socket listener and HTTP
routing, ``security`` the handshake checks and ``simulator`` the AudioHook client we test with.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
