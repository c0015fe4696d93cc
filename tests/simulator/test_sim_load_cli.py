"""``run_load`` and the ``simulate`` command line against the fake server.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import trio

from connector.simulator import (
    UpdateAt,
    main,
    run_call,
    run_load,
)
from tests.simulator.fake_server import (
    Conn,
    FakeServer,
    config,
    source,
    transcript_entity,
)

# ---------------------------------------------------------------------------------------------
# load and CLI


async def test_run_load(fake: FakeServer, autojump_clock: trio.abc.Clock) -> None:
    load = await run_load(config(fake), 3, source(1.0), ramp_up=1.5)
    summary = load.summary()
    assert summary["sessions"] == 3 and summary["completed"] == 3 and summary["failed"] == 0
    assert len(set(fake.sessions)) == 3
    assert summary["opened_latency_ms"]["p50"] is not None
    opens = [t for t, k, m in fake.log if k == "text" and m["type"] == "open"]
    assert np.diff(opens) == pytest.approx([0.5, 0.5], abs=0.01)


async def test_cli_json_report(fake: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 1600:
            await conn.send("event", {"entities": [transcript_entity(0.0)]})

    fake.on_audio = on_audio
    argv = [fake.url, "--api-key", "k", "--speed", "0", "--duration", "0.5", "--ping-interval", "0", "--json"]
    code = await trio.to_thread.run_sync(main, argv)
    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == 0
    assert report["summary"]["completed"] == 1
    assert report["call"]["transcripts"][0]["text"] == "hello world"
    assert report["call"]["final_position"] == 0.5


async def test_cli_prints_transcripts_and_fails_on_errors(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    async def on_audio(conn: Conn, total: int) -> None:
        if total == 1600:
            await conn.send("event", {"entities": [transcript_entity(0.0, text="bonjour")]})
            conn.seq += 5

    fake.on_audio = on_audio
    argv = [fake.url, "--speed", "0", "--duration", "0.5", "--ping-interval", "0", "--update", "0.1:fr-FR"]
    code = await trio.to_thread.run_sync(main, argv)
    out = capsys.readouterr().out
    assert code == 1
    assert "FINAL" in out and "bonjour" in out and "ch0 external" in out
    assert "protocol error 500" in out


def test_cli_rejects_malformed_injections(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ws://127.0.0.1:1/x", "--pause", "1.0"])
    assert exc.value.code == 2
    assert "AT:SECONDS" in capsys.readouterr().err


async def test_finals_flushed_between_close_and_closed_are_kept(
    fake: FakeServer, autojump_clock: trio.abc.Clock
) -> None:
    async def hook(conn: Conn, msg: dict[str, Any]) -> bool:
        if msg["type"] == "close":
            await conn.send("event", {"entities": [transcript_entity(1.0)]})
            await conn.send("closed")
            return True
        return False

    fake.hook = hook
    result = await run_call(config(fake, injections=(UpdateAt(9.0, "fr-FR"),)), source(2.0))
    assert result.ok and len(result.finals) == 1
    assert result.finals[0].stream_position == pytest.approx(2.0)
    assert result.warnings == ["1 injection(s) beyond the end of the stream"]
