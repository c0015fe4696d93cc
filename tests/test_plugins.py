"""The one plug-in loader behind engines and translators: lookup order, laziness and the "unknown" error."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint

import pytest

from connector import plugins
from connector.asr.base import EngineConfigError
from connector.asr.registry import load_engine
from connector.plugins import PluginLoader
from connector.translate.base import TranslatorConfigError
from connector.translate.registry import load_translator


def echo(env: Mapping[str, str]) -> str:
    return f"echo {env.get('X', '')}"


def other(env: Mapping[str, str]) -> str:
    return "other"


class Unknown(Exception):
    pass


def loader(monkeypatch: pytest.MonkeyPatch, *installed: EntryPoint) -> PluginLoader[str]:
    """A loader with one built-in, and ``installed`` standing in for the entry points of other packages."""
    monkeypatch.setattr(plugins, "entry_points", lambda group: [ep for ep in installed if ep.group == group])
    return PluginLoader[str](kind="widget", group="test.widgets", builtins={"echo": f"{__name__}:echo"}, error=Unknown)


def test_builtin_then_entry_point_then_module_function(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = EntryPoint("plugged", f"{__name__}:other", "test.widgets")
    shadow = EntryPoint("echo", f"{__name__}:other", "test.widgets")
    widgets = loader(monkeypatch, installed, shadow)
    assert widgets.load("echo", {"X": "1"}) == "echo 1"  # an installed package cannot shadow a built-in
    assert widgets.load("plugged", {}) == "other"
    assert widgets.load(f"{__name__}:echo", {}) == "echo "


def test_unknown_names_the_kind_and_every_known_name(monkeypatch: pytest.MonkeyPatch) -> None:
    widgets = loader(monkeypatch, EntryPoint("plugged", f"{__name__}:other", "test.widgets"))
    with pytest.raises(Unknown, match=r"^unknown widget 'nope'; known widgets: echo, plugged$"):
        widgets.load("nope", {})


def test_a_broken_module_function_is_not_reworded(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModuleNotFoundError):
        loader(monkeypatch).load("no_such_module_here:create", {})


def test_engines_and_translators_keep_their_messages() -> None:
    with pytest.raises(EngineConfigError, match=r"^unknown engine 'nope'; known engines: .*google, local, openai"):
        load_engine("nope", {})
    with pytest.raises(TranslatorConfigError, match=r"^unknown translator 'nope'; known translators: .*gemini"):
        load_translator("nope", {})
