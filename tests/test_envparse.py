"""The one environment parser: defaults, bounds, messages that name the variable, error classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.asr.base import EngineConfigError, EngineError
from connector.envparse import ConfigError, EnvReader


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("soon", "X: must be a number from 0.05 to 0.95, not 'soon'"),
        ("1.5", "X: must be a number from 0.05 to 0.95, not '1.5'"),
        ("nan", "X: must be a number from 0.05 to 0.95, not 'nan'"),
    ],
)
def test_a_bad_number_names_the_variable_the_range_and_the_value(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        EnvReader({"X": raw}).number("X", 0.5, low=0.05, high=0.95)
    assert str(info.value) == message


def test_bounds_and_defaults() -> None:
    read = EnvReader({"A": " 0.05 ", "B": "", "C": "0", "D": "2.5", "E": "7"})
    assert read.number("A", 1.0, low=0.05) == 0.05
    assert read.number("B", 1.0, low=5) == 1.0  # empty: the default, unchecked
    assert read.number("UNSET", 3.0) == 3.0
    with pytest.raises(ConfigError, match="C: must be a number greater than 0, not '0'"):
        read.number("C", 1.0, above=0)
    with pytest.raises(ConfigError, match=r"D: must be a whole number of at least 1, not '2\.5'"):
        read.integer("D", 1, low=1)
    assert read.integer("E", 1, low=0, high=65535) == 7
    with pytest.raises(ConfigError, match="E: must be a whole number of at most 5, not '7'"):
        read.integer("E", 1, high=5)


def test_flags_choices_words_and_text() -> None:
    read = EnvReader({"F": " Yes ", "G": "off", "H": "maybe", "L": "debug", "W": "a, b  c,,", "T": "  x  "})
    assert read.flag("F", False) is True
    assert read.flag("G", True) is False
    assert read.flag("UNSET", True) is True
    with pytest.raises(ConfigError, match="H: must be true or false, not 'maybe'"):
        read.flag("H", False)
    assert read.choice("L", "INFO", ("DEBUG", "INFO")) == "DEBUG"
    with pytest.raises(ConfigError, match="L: must be one of json, text, not 'debug'"):
        read.choice("L", "json", ("json", "text"))
    assert read.words("W", ()) == ("a", "b", "c")
    assert read.words("UNSET", None) is None
    assert read.text("T") == "x"
    assert read.text("UNSET", "fallback") == "fallback"


def test_secrets_come_from_the_first_key_set_or_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-file\n", encoding="utf-8")
    assert EnvReader({"B": "direct"}).secret("A", "B") == "direct"
    assert EnvReader({"A_FILE": str(secret), "B": "direct"}).secret("A", "B") == "from-file"
    assert EnvReader({}).secret("A") is None
    with pytest.raises(ConfigError) as info:
        EnvReader({"A_FILE": str(tmp_path / "missing")}).secret("A")
    assert str(info.value).startswith("A_FILE: ") and "cannot be read" in str(info.value)


def test_collecting_reports_every_problem_at_once() -> None:
    read = EnvReader({"P": "99999", "Q": "maybe", "R": "/ok"}, collect=True)
    assert read.integer("P", 8080, low=0, high=65535) == 8080
    assert read.flag("Q", False) is False
    assert read.parsed("R", "", lambda t: t.upper()) == "/OK"
    read.problem("S: does not fit with P")
    with pytest.raises(ConfigError) as info:
        read.raise_problems()
    assert str(info.value).splitlines() == [
        "invalid configuration:",
        "  P: must be a whole number from 0 to 65535, not '99999'",
        "  Q: must be true or false, not 'maybe'",
        "  S: does not fit with P",
    ]
    EnvReader({}, collect=True).raise_problems()  # nothing recorded: nothing raised


def test_engines_get_their_own_error_class_which_is_still_a_config_error() -> None:
    with pytest.raises(EngineConfigError, match="X: must be a number") as info:
        EnvReader({"X": "two"}, error=EngineConfigError).number("X", 1.0)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, EngineError)
    assert isinstance(info.value, ValueError)


def test_a_parse_error_does_not_echo_the_value() -> None:
    def refuse(text: str) -> str:
        raise ValueError("entry 1: not valid base64")

    with pytest.raises(ConfigError) as info:
        EnvReader({"K": "key:s3cret"}).parsed("K", "", refuse)
    assert str(info.value) == "K: entry 1: not valid base64"
