"""Redaction modes: parsing a server's setting and a call's ``customConfig.redaction``."""

from __future__ import annotations

import pytest

from connector.redaction import MODES, call_mode, parse_mode, redacts_sent, redacts_stored


def test_modes_are_off_stored_all() -> None:
    assert MODES == ("off", "stored", "all")


@pytest.mark.parametrize(("value", "mode"), [("off", "off"), ("STORED", "stored"), (" All ", "all"), ("Off", "off")])
def test_parse_mode_is_case_insensitive(value: str, mode: str) -> None:
    assert parse_mode(value) == mode


@pytest.mark.parametrize("value", ["", "none", "yes", "store", True, False, None, 1, ["all"]])
def test_parse_mode_refuses_anything_else_naming_the_allowed_values(value: object) -> None:
    with pytest.raises(ValueError, match="off, stored, all") as raised:
        parse_mode(value)
    assert repr(value) in str(raised.value)


def test_call_mode_defaults_to_the_server_setting() -> None:
    assert call_mode({}, "stored") == "stored"
    assert call_mode({"partialResults": True}, "all") == "all"
    assert call_mode({"redaction": None}, "off") == "off"


def test_call_mode_overrides_the_server_setting_either_way() -> None:
    assert call_mode({"redaction": "all"}, "stored") == "all"
    assert call_mode({"redaction": "OFF"}, "stored") == "off"
    assert call_mode({"redaction": "stored"}, "off") == "stored"


def test_call_mode_refuses_a_bad_value_instead_of_falling_back() -> None:
    with pytest.raises(ValueError, match=r"customConfig\.redaction must be one of off, stored, all"):
        call_mode({"redaction": "everything"}, "stored")
    with pytest.raises(ValueError, match=r"customConfig\.redaction"):
        call_mode({"redaction": True}, "stored")


def test_where_each_mode_applies() -> None:
    assert [redacts_stored(m) for m in MODES] == [False, True, True]
    assert [redacts_sent(m) for m in MODES] == [False, False, True]
