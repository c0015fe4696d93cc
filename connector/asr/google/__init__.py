"""Google Cloud Speech-to-Text v2 streaming engine (``transcriptionVendor: google``).

Importing this package imports the Google SDK; the registry does so only when the engine is
enabled. Settings are read from the environment (see ``docs/engines-cloud.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import GoogleSettings
from .engine import GoogleEngine

__all__ = ["GoogleEngine", "GoogleSettings", "create_engine"]


def create_engine(env: Mapping[str, str]) -> GoogleEngine:
    """The engine factory named ``google``; raises ``EngineConfigError`` for invalid settings."""
    return GoogleEngine(GoogleSettings.from_env(env))
