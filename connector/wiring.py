"""Optional server extensions chosen by configuration (translation, metrics routes).

Kept apart from the CLI so tests and benchmarks build the same server the CLI does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import Settings

__all__ = ["build_extensions"]


def build_extensions(settings: Settings, env: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for :class:`connector.server.ConnectorServer` beyond the engines."""
    return {}
