"""Engines by name: the built-ins, plus plug-ins from the ``audiohook_connector.engines`` entry point.

Each engine module exposes ``create_engine(env: Mapping[str, str]) -> EngineFactory``, reading
its own settings from the environment, so adding an engine is one module plus one line here
(or one entry point in a third-party package). Engines are imported only when enabled, so a
server that runs the embedded engine never imports a cloud SDK. The lookup itself is
:class:`connector.plugins.PluginLoader`, shared with the translators.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..plugins import PluginLoader
from .base import EngineConfigError, EngineFactory

__all__ = ["BUILTIN_ENGINES", "EngineRegistry", "load_engine"]

BUILTIN_ENGINES: dict[str, str] = {
    "local": "connector.asr.local:create_engine",
    "google": "connector.asr.google:create_engine",
    "openai": "connector.asr.openai:create_engine",
}

ENTRY_POINT_GROUP = "audiohook_connector.engines"

_ENGINES = PluginLoader[EngineFactory](
    kind="engine", group=ENTRY_POINT_GROUP, builtins=BUILTIN_ENGINES, error=EngineConfigError
)


def load_engine(name: str, env: Mapping[str, str]) -> EngineFactory:
    """Instantiate engine ``name`` (a built-in, an entry point, or ``module:function``)."""
    return _ENGINES.load(name, env)


class EngineRegistry:
    """The engines this server has started, and which one serves a call by default."""

    def __init__(self, engines: Iterable[EngineFactory], default: str) -> None:
        self._engines = {engine.name: engine for engine in engines}
        if default not in self._engines:
            raise EngineConfigError(f"default engine {default!r} is not among the enabled engines")
        self.default = default

    @property
    def names(self) -> list[str]:
        return sorted(self._engines)

    def get(self, name: str | None) -> EngineFactory:
        """The engine for ``customConfig.transcriptionVendor`` (``None`` = server default)."""
        key = self.default if name is None else name
        try:
            return self._engines[key]
        except KeyError:
            raise EngineConfigError(
                f"transcriptionVendor {key!r} is not enabled on this server; enabled: {', '.join(self.names)}"
            ) from None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._engines.values())

    async def start(self) -> None:
        for engine in self._engines.values():
            await engine.start()

    async def aclose(self) -> None:
        for engine in self._engines.values():
            await engine.aclose()
