"""Translators by name, like engines: built-ins plus ``audiohook_connector.translators`` entry points.

Each module exposes ``create_translator(env) -> TranslatorFactory`` and is imported only when
enabled, so a server without translation never imports an LLM SDK. The lookup itself is
:class:`connector.plugins.PluginLoader`, shared with the engines.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..plugins import PluginLoader
from .base import TranslatorConfigError, TranslatorFactory

__all__ = ["BUILTIN_TRANSLATORS", "load_translator"]

BUILTIN_TRANSLATORS: dict[str, str] = {
    "gemini": "connector.translate.gemini:create_translator",
}

ENTRY_POINT_GROUP = "audiohook_connector.translators"

_TRANSLATORS = PluginLoader[TranslatorFactory](
    kind="translator", group=ENTRY_POINT_GROUP, builtins=BUILTIN_TRANSLATORS, error=TranslatorConfigError
)


def load_translator(name: str, env: Mapping[str, str]) -> TranslatorFactory:
    """Instantiate translator ``name`` (a built-in, an entry point, or ``module:function``)."""
    return _TRANSLATORS.load(name, env)
