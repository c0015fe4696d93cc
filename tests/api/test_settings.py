"""``CONNECTOR_API_*``: defaults, tokens from the variable and the file, every problem at once,
and no token ever repeated in a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.api import ApiSettings, ConfigError, Scope

READ = "read-token-0123456789abcdef"
BOTH = "both-token-0123456789abcdef"


def test_defaults_with_a_token() -> None:
    settings = ApiSettings.from_env({"CONNECTOR_API_TOKENS": f"read:{READ}"})
    assert (settings.enabled, settings.host, settings.port, settings.max_body) == (True, "0.0.0.0", 8081, 65536)  # noqa: S104
    assert settings.apply_wait == 1.0
    assert not settings.anonymous
    assert [t.scopes for t in settings.tokens] == [frozenset({Scope.READ})]


def test_host_follows_connector_host_unless_set() -> None:
    env = {"CONNECTOR_API_TOKENS": f"read:{READ}", "CONNECTOR_HOST": "10.0.0.5"}
    assert ApiSettings.from_env(env).host == "10.0.0.5"
    assert ApiSettings.from_env({**env, "CONNECTOR_API_HOST": "127.0.0.1"}).host == "127.0.0.1"


def test_tokens_from_the_list_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# operators\n\ncontrol:{'c' * 20}\n  read+control:{BOTH}  \n", encoding="utf-8")
    settings = ApiSettings.from_env(
        {"CONNECTOR_API_TOKENS": f"read:{READ}, control+read:{'d' * 16}", "CONNECTOR_API_TOKENS_FILE": str(path)}
    )
    both = frozenset({Scope.READ, Scope.CONTROL})
    assert [(t.token, t.scopes) for t in settings.tokens] == [
        (READ, frozenset({Scope.READ})),
        ("d" * 16, both),
        ("c" * 20, frozenset({Scope.CONTROL})),
        (BOTH, both),
    ]
    assert READ not in repr(settings)


def test_every_problem_at_once_without_the_tokens(tmp_path: Path) -> None:
    secret = "short-secret-15"
    path = tmp_path / "tokens"
    path.write_text(f"write:{BOTH}\n", encoding="utf-8")
    env = {
        "CONNECTOR_API_TOKENS": f"read:{secret},{BOTH}",
        "CONNECTOR_API_TOKENS_FILE": str(path),
        "CONNECTOR_API_PORT": "70000",
        "CONNECTOR_API_MAX_BODY": "10",
        "CONNECTOR_API_ENABLED": "perhaps",
    }
    with pytest.raises(ConfigError) as info:
        ApiSettings.from_env(env)
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid configuration:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "CONNECTOR_API_TOKENS",
        "CONNECTOR_API_TOKENS",
        "CONNECTOR_API_TOKENS_FILE",
        "CONNECTOR_API_ENABLED",
        "CONNECTOR_API_PORT",
        "CONNECTOR_API_MAX_BODY",
    ]
    assert "entry 1: the token must be at least 16" in lines[1]
    assert "entry 2: must be scopes:token" in lines[2]
    assert "line 1: must be scopes:token" in lines[3]
    assert secret not in str(info.value) and BOTH not in str(info.value)


def test_a_duplicate_token_and_an_unreadable_file(tmp_path: Path) -> None:
    env = {
        "CONNECTOR_API_TOKENS": f"read:{READ},control:{READ}",
        "CONNECTOR_API_TOKENS_FILE": str(tmp_path / "missing"),
    }
    with pytest.raises(ConfigError) as info:
        ApiSettings.from_env(env)
    assert "cannot be read" in str(info.value)
    assert "listed twice" in str(info.value)
    assert READ not in str(info.value)


def test_no_tokens_says_how_to_set_them() -> None:
    with pytest.raises(ConfigError) as info:
        ApiSettings.from_env({})
    message = str(info.value)
    assert "CONNECTOR_API_TOKENS=read+control:<token>" in message
    assert "CONNECTOR_ALLOW_ANONYMOUS=true" in message and "CONNECTOR_API_ENABLED=false" in message


def test_an_empty_tokens_file_is_no_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no API tokens configured"):
        ApiSettings.from_env({"CONNECTOR_API_TOKENS_FILE": str(path)})


def test_anonymous_and_disabled() -> None:
    assert ApiSettings.from_env({"CONNECTOR_ALLOW_ANONYMOUS": "true"}).anonymous
    assert not ApiSettings.from_env({"CONNECTOR_API_ENABLED": "false"}).enabled
    with_tokens = ApiSettings.from_env({"CONNECTOR_ALLOW_ANONYMOUS": "true", "CONNECTOR_API_TOKENS": f"read:{READ}"})
    assert not with_tokens.anonymous  # configured tokens always apply
