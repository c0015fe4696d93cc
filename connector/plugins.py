"""Plug-ins by name: the built-ins we ship, entry points of other packages, or ``module:function``.

Engines and translators are found the same way, so the lookup is written once, here. It is on
the ground floor: it imports nothing from the rest of ``connector``, and the caller passes the
error type to raise, so a user still sees the error of the layer that asked (an engine's
configuration error, say) without this module knowing about engines.

Nothing is imported until a plug-in is asked for by name, and entry points are read at that
moment too: a server that runs only the embedded engine never imports a cloud SDK, and a
package installed after this module was imported is still found.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar, cast

__all__ = ["PluginLoader"]

T = TypeVar("T")

Factory = Callable[[Mapping[str, str]], Any]
"""What every plug-in exposes: a function of the environment that reads its own settings."""


def _resolve(target: str) -> Any:
    """Import ``module:attribute`` and return the attribute (import errors propagate as they are)."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class PluginLoader(Generic[T]):
    """One kind of plug-in: where its built-ins live, its entry-point group, and how to say "unknown".

    ``builtins`` is held by reference, so adding one line to the caller's table is enough to
    ship a new built-in.
    """

    kind: str
    """Singular noun for messages: ``"engine"`` gives "unknown engine 'x'; known engines: ..."."""
    group: str
    """The ``importlib.metadata`` entry-point group third-party packages register under."""
    builtins: Mapping[str, str]
    """Name to ``module:function`` for the plug-ins this repository ships."""
    error: Callable[[str], Exception]
    """Raised, with the message, for a name that is none of the three."""

    def load(self, name: str, env: Mapping[str, str]) -> T:
        """Call plug-in ``name``'s factory with ``env``.

        Looked up in order: a built-in, an entry point, then ``module:function`` taken literally,
        so a built-in name cannot be shadowed by an installed package.
        """
        return cast(T, self._factory(name)(env))

    def known(self) -> list[str]:
        """Every name :meth:`load` accepts besides ``module:function``, for the "unknown" message."""
        return sorted({*self.builtins, *(ep.name for ep in entry_points(group=self.group))})

    def _factory(self, name: str) -> Factory:
        if name in self.builtins:
            return cast(Factory, _resolve(self.builtins[name]))
        for ep in entry_points(group=self.group):
            if ep.name == name:
                return cast(Factory, ep.load())
        if ":" in name:
            return cast(Factory, _resolve(name))
        raise self.error(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.known())}")
