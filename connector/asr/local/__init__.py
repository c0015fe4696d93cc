"""The embedded offline engine (``local``): streaming Whisper on CTranslate2, no keys, no network.

``create_engine(env)`` reads the ``LOCAL_*`` settings (docs/engine-local.md) and returns the
factory; the model is loaded by its ``start()``. See :mod:`.recognizer` for the streaming
design and :mod:`.decoder` for how audio becomes words.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import LocalSettings
from .engine import LocalEngine

__all__ = ["LocalEngine", "LocalSettings", "create_engine"]


def create_engine(env: Mapping[str, str]) -> LocalEngine:
    """The registry's entry point: validate settings now, load the model in ``start()``."""
    return LocalEngine(LocalSettings.from_env(env))
