"""The one way settings are read from environment variables: typed, checked, and named in errors.

The server (:mod:`connector.config`, :mod:`connector.metrics`), every engine and every translator
read their variables through an :class:`EnvReader`, so a value is parsed, bounded and reported the
same way wherever it is read: an empty or unset variable means the default, text is stripped, a
choice ignores case, and every problem reads ``NAME: what is wrong`` (with the offending value,
except for secrets and values parsed by the caller).

Errors. Every problem is a :class:`ConfigError`, a :class:`ValueError`. Engines raise
:class:`~connector.asr.base.EngineConfigError` and translators
:class:`~connector.translate.base.TranslatorConfigError` (their callers and tests catch those),
and both derive from :class:`ConfigError`; so an engine builds its reader with
``EnvReader(env, error=EngineConfigError)`` and its problems arrive as the class its callers
expect, while code that only knows this module can catch :class:`ConfigError` for any of them.
This module is ground floor: it imports nothing of the connector, so any layer may use it.

Reporting. By default the first problem raises. With ``collect=True`` (the server's settings) a
problem is recorded and the default returned, and :meth:`EnvReader.raise_problems` raises one
error listing them all, so an operator fixes a deployment in one round trip.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

__all__ = ["ConfigError", "EnvReader", "split_words"]

T = TypeVar("T")
N = TypeVar("N", int, float)
_Bounds = tuple[float | None, float | None, float | None]
"""``low``, ``high`` (both inclusive) and ``above`` (exclusive); ``None``: no such bound."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable (or lists every problem)."""


def split_words(text: str) -> tuple[str, ...]:
    """Items separated by commas and/or white space."""
    return tuple(text.replace(",", " ").split())


def _describe(low: float | None, high: float | None, above: float | None) -> str:
    if low is not None and high is not None:
        parts = [f"from {low:g} to {high:g}"]
    else:
        parts = [f"of at least {low:g}"] if low is not None else [f"of at most {high:g}"] if high is not None else []
    parts += [f"greater than {above:g}"] if above is not None else []
    return " " + " and ".join(parts) if parts else ""


def _within(value: float, low: float | None, high: float | None, above: float | None) -> bool:
    """In bounds (``NaN`` never is)."""
    return not math.isnan(value) and (
        (low is None or value >= low) and (high is None or value <= high) and (above is None or value > above)
    )


class EnvReader:
    """Typed reads of one environment mapping (``os.environ``, a ``.env`` merge, a test's dict)."""

    def __init__(
        self, env: Mapping[str, str], *, error: type[ConfigError] = ConfigError, collect: bool = False
    ) -> None:
        self.env = env
        self.error = error
        self.problems: list[str] | None = [] if collect else None

    def problem(self, message: str) -> None:
        """Report ``message``: raise it now, or record it when collecting."""
        if self.problems is None:
            raise self.error(message)
        self.problems.append(message)

    def raise_problems(self) -> None:
        """When collecting: raise one error listing every recorded problem, if there is any."""
        if self.problems:
            raise self.error("invalid configuration:\n  " + "\n  ".join(self.problems))

    def _raw(self, key: str) -> str:
        return self.env.get(key, "").strip()

    def text(self, key: str, default: str = "") -> str:
        return self._raw(key) or default

    def parsed(self, key: str, default: T, parse: Callable[[str], T]) -> T:
        """``parse(text)``; its :class:`ValueError` says what is wrong (the value is not echoed)."""
        raw = self._raw(key)
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.problem(f"{key}: {exc}")
            return default

    def number(
        self, key: str, default: float, *, low: float | None = None, high: float | None = None,
        above: float | None = None,
    ) -> float:  # fmt: skip
        """A float within ``low``..``high`` (inclusive) and greater than ``above``, where given."""
        return self._numeric(key, default, float, "a number", (low, high, above))

    def integer(self, key: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
        """A whole number within ``low``..``high`` (inclusive), where given."""
        return self._numeric(key, default, int, "a whole number", (low, high, None))

    def _numeric(self, key: str, default: N, convert: Callable[[str], N], kind: str, bounds: _Bounds) -> N:
        raw = self._raw(key)
        if not raw:
            return default
        with contextlib.suppress(ValueError):
            value = convert(raw)
            if _within(value, *bounds):
                return value
        self.problem(f"{key}: must be {kind}{_describe(*bounds)}, not {raw!r}")
        return default

    def flag(self, key: str, default: bool) -> bool:
        """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``, in any case."""
        raw = self._raw(key)
        if not raw:
            return default
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        self.problem(f"{key}: must be true or false, not {raw!r}")
        return default

    def choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        """One of ``choices``, matched without regard to case and returned as spelled there."""
        raw = self._raw(key)
        if not raw:
            return default
        allowed = list(choices)
        for choice in allowed:
            if choice.lower() == raw.lower():
                return choice
        self.problem(f"{key}: must be one of {', '.join(allowed)}, not {raw!r}")
        return default

    def words(self, key: str, default: T) -> tuple[str, ...] | T:
        """Items separated by commas and/or white space (:func:`split_words`)."""
        raw = self._raw(key)
        return split_words(raw) if raw else default

    def secret(self, *keys: str) -> str | None:
        """The first of ``keys`` set, from ``KEY`` or from the file named by ``KEY_FILE``.

        The value never appears in a message; a ``KEY_FILE`` that cannot be read is a problem.
        """
        for key in keys:
            if value := self._raw(key):
                return value
            if path := self._raw(f"{key}_FILE"):
                try:
                    return Path(path).read_text(encoding="utf-8").strip() or None
                except OSError as exc:
                    self.problem(f"{key}_FILE: {path!r} cannot be read ({exc.strerror})")
                    return None
        return None
