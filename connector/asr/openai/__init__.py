"""OpenAI speech-to-text engine (``transcriptionVendor: openai``), or any OpenAI-compatible server.

This package is ``connector.asr.openai``; with absolute imports (the default) ``import openai``
inside it still means the SDK. Importing the package imports the SDK; the registry does so only
when the engine is enabled. Settings come from the environment (``docs/engines-cloud.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import OpenAISettings
from .engine import OpenAIEngine

__all__ = ["OpenAIEngine", "OpenAISettings", "create_engine"]


def create_engine(env: Mapping[str, str]) -> OpenAIEngine:
    """The engine factory named ``openai``; raises ``EngineConfigError`` for invalid settings."""
    return OpenAIEngine(OpenAISettings.from_env(env))
