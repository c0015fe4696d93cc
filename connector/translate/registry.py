"""Translators by name, like engines: built-ins plus ``audiohook_connector.translators`` entry points.

Each module exposes ``create_translator(env) -> TranslatorFactory`` and is imported only when
enabled, so a server without translation never imports an LLM SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, cast

from ..asr.base import EngineConfigError
from .base import TranslatorFactory

__all__ = ["BUILTIN_TRANSLATORS", "load_translator"]

BUILTIN_TRANSLATORS: dict[str, str] = {
    "gemini": "connector.translate.gemini:create_translator",
}

ENTRY_POINT_GROUP = "audiohook_connector.translators"


def _resolve(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def load_translator(name: str, env: Mapping[str, str]) -> TranslatorFactory:
    """Instantiate translator ``name`` (a built-in, an entry point, or ``module:function``)."""
    if name in BUILTIN_TRANSLATORS:
        return cast(TranslatorFactory, _resolve(BUILTIN_TRANSLATORS[name])(env))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return cast(TranslatorFactory, ep.load()(env))
    if ":" in name:
        return cast(TranslatorFactory, _resolve(name)(env))
    known = sorted({*BUILTIN_TRANSLATORS, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
    raise EngineConfigError(f"unknown translator {name!r}; known translators: {', '.join(known)}")
