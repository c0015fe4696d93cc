"""Reading engine settings from the environment, with errors that name the variable.

Shared by the engines so that every ``*_S`` number, list and flag is parsed and reported the
same way (an :class:`EngineConfigError` that says which variable and what was wrong).
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import EngineConfigError

__all__ = ["env_list", "env_number"]


def env_number(env: Mapping[str, str], key: str, default: float, minimum: float) -> float:
    raw = env.get(key)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EngineConfigError(f"{key} must be a number, not {raw!r}") from None
    if value < minimum:
        raise EngineConfigError(f"{key} must be at least {minimum}, not {value}")
    return value


def env_list(env: Mapping[str, str], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Items separated by commas and/or spaces."""
    raw = env.get(key)
    if raw is None or not raw.strip():
        return default
    return tuple(item for item in raw.replace(",", " ").split() if item)
