"""Configuration validation, logging hygiene, and the real CLI process with SIGTERM drain."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from connector.config import ConfigError, Settings, load_environment
from connector.testing.server import TEST_SECRET, RunningServer
from tests.rawclient import MONO_EXT, connect, silence, tone
from tests.served_process import serving
from tests.server.test_handshake import http_request

REPO = Path(__file__).resolve().parents[2]


def test_defaults_need_keys_or_explicit_anonymous_mode() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({})
    assert "CONNECTOR_API_KEYS" in str(info.value)
    assert Settings.from_env({"CONNECTOR_ALLOW_ANONYMOUS": "true"}).allow_anonymous


def test_every_problem_is_reported_at_once() -> None:
    env = {
        "CONNECTOR_API_KEYS": "k",
        "CONNECTOR_PORT": "99999",
        "CONNECTOR_EVENT_RATE": "-1",
        "CONNECTOR_PATH": "audiohook",
        "CONNECTOR_DEFAULT_ENGINE": "google",
        "CONNECTOR_LOG_LEVEL": "LOUD",
        "CONNECTOR_SEND_PARTIALS": "maybe",
    }
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    for name in ("CONNECTOR_PORT", "CONNECTOR_EVENT_RATE", "CONNECTOR_PATH", "CONNECTOR_DEFAULT_ENGINE",
                 "CONNECTOR_LOG_LEVEL", "CONNECTOR_SEND_PARTIALS"):  # fmt: skip
        assert name in message


def test_secrets_never_appear_in_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"CONNECTOR_API_KEYS": "key:not*base64*secret"})
    assert "not*base64*secret" not in str(info.value)


def test_parsed_values(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CONNECTOR_PORT=9000\nCONNECTOR_ORG_ALLOWLIST=AAAAAAAA-0000-0000-0000-000000000000\n")
    env = load_environment(str(env_file))
    env.update({"CONNECTOR_API_KEYS": f"a:{TEST_SECRET},b", "CONNECTOR_ENGINES": "local, google"})
    settings = Settings.from_env(env)
    assert settings.port == 9000
    assert [k.key for k in settings.api_keys] == ["a", "b"]
    assert settings.api_keys[1].secret is None
    assert settings.engines == ("local", "google")
    assert settings.organization_allowlist == frozenset({"aaaaaaaa-0000-0000-0000-000000000000"})


async def test_no_transcript_text_or_audio_in_info_logs(
    running: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connector")
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(media=[MONO_EXT])
        await client.audio(np.concatenate([silence(0.2), tone(0.6), silence(0.5)]), frame_ms=20)
        await client.close()
    await running.idle()
    assert client.transcripts(final=True)[0]["alternatives"][0]["interpretations"][0]["transcript"] == "segment 0"
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "segment 0" not in text
    assert len(caplog.records) < 10  # a handful of lifecycle lines, not one per audio frame
    assert any(r.getMessage() == "session ended" for r in caplog.records)


async def test_cli_serves_and_drains_on_sigterm(tmp_path: Path) -> None:
    env = {
        "CONNECTOR_ENGINES": "connector.testing.scripted_engine:create_engine",
        "CONNECTOR_DEFAULT_ENGINE": "scripted",
        "CONNECTOR_DRAIN_TIMEOUT": "5",
    }
    async with serving(tmp_path, env) as served:
        port, process = served.port, served.process
        async with connect(port, secret=TEST_SECRET) as client:
            await client.open(media=[MONO_EXT])
            status, headers, body = await http_request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status == 200 and headers["content-type"].startswith("text/plain")
            families = {f.name for f in text_string_to_metric_families(body.decode())}
            assert {"connector_sessions_active", "connector_event_loop_lag_seconds"} <= families
            process.send_signal(signal.SIGTERM)
            await client.audio(np.concatenate([silence(0.2), tone(0.5), silence(0.5)]))
            await client.close()
        with trio.fail_after(20):
            code = await process.wait()
    assert code == 0
    assert [f["offset"] for f in client.transcripts(final=True)] == ["PT0.2S"]


def test_cli_reports_bad_configuration(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "connector", "serve", "--env-file", str(tmp_path / "none.env")],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "CONNECTOR_PORT": "x"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "CONNECTOR_PORT" in result.stderr and "CONNECTOR_API_KEYS" in result.stderr
