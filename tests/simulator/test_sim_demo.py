"""``simulate --demo``: the built-in two-party call, its options, and a whole call against a real server."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trio

from connector.simulator import cli, main, read_wav
from connector.simulator.demo import (
    DEFAULT_API_PORT,
    DEMO_URL,
    conversation_url,
    demo_source,
    demo_wav_bytes,
    transcript_command,
)
from connector.simulator.demo import build as demo_build
from connector.simulator.wav import FORMAT_MULAW
from connector.testing.server import TEST_SECRET, RunningServer, assert_nothing_left
from connector.vocabulary import SAMPLE_RATE

FRAME = SAMPLE_RATE // 10  # 100 ms
LOUD = 300.0  # RMS of a 100 ms frame that holds speech (the room tone kept around each turn stays below)

# ---------------------------------------------------------------------------------------------
# the recording


def _loud_frames(channel: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    frames = channel[: len(channel) // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    loud: npt.NDArray[np.bool_] = np.sqrt((frames**2).mean(axis=1)) >= LOUD
    return loud


def test_demo_wav_is_small_8khz_mulaw_stereo() -> None:
    data = demo_wav_bytes()
    assert len(data) < 1_500_000
    wav = read_wav(data)
    assert (wav.info.format_tag, wav.info.bits_per_sample) == (FORMAT_MULAW, 8)
    assert wav.channels == 2 and wav.sample_rate == SAMPLE_RATE
    assert 28.0 <= wav.duration <= 45.0


def test_demo_turns_alternate_customer_first() -> None:
    pcm = read_wav(demo_wav_bytes()).samples
    ext, internal = _loud_frames(pcm[:, 0]), _loud_frames(pcm[:, 1])
    assert not (ext & internal).any(), "the two sides never speak at once"
    assert ext.sum() * 0.1 >= 3.0 and internal.sum() * 0.1 >= 14.0  # seconds of loud speech on each side
    # Who speaks, frame by frame, with silences dropped and repeats merged: the turns.
    speaker = [0 if e else 1 for e, i in zip(ext, internal, strict=True) if e or i]
    turns = [s for k, s in enumerate(speaker) if k == 0 or s != speaker[k - 1]]
    assert turns == [0, 1, 0, 1, 0]
    # Both sides start and end in silence (a clean start, and room for the last final).
    assert not (ext[:3].any() or internal[:3].any() or ext[-5:].any() or internal[-5:].any())


def test_demo_source_is_the_recording() -> None:
    source = demo_source()
    wav = read_wav(demo_wav_bytes())
    assert source.duration == pytest.approx(wav.duration)
    assert np.array_equal(source.pcm, wav.samples)
    assert source.name == "demo-call.wav"


def test_demo_licences_are_listed_and_redistributable() -> None:
    text = (Path(demo_build.__file__).parent / "LICENSES.md").read_text(encoding="utf-8")
    for turn in demo_build.TURNS:
        assert turn.text in text
    assert "MIT" in text and "Public domain (LibriVox)" in text
    assert "CC-BY-SA" not in text and "BY-SA" not in text


def test_demo_rebuilds_byte_for_byte_from_the_realspeech_set() -> None:
    if not (demo_build.DEFAULT_SET_DIR / "manifest.json").is_file():
        pytest.skip("tests/realspeech is not here (not a checkout)")
    wav, licenses = demo_build.build()
    assert wav == demo_wav_bytes(), "demo-call.wav is stale: python -m connector.simulator.demo.build"
    shipped = (Path(demo_build.__file__).parent / "LICENSES.md").read_text(encoding="utf-8")
    assert licenses == shipped, "LICENSES.md is stale: python -m connector.simulator.demo.build"
    assert demo_build.main(["--check"]) == 0


# ---------------------------------------------------------------------------------------------
# the command line


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = cli.build_parser()
    args = parser.parse_args(argv)
    cli._check_demo(parser, args)
    return args


def test_demo_defaults_to_the_local_server_and_api_port() -> None:
    args = _parse(["--demo"])
    assert args.demo and args.url == DEMO_URL == "ws://127.0.0.1:8080/audiohook"
    assert args.api_port == DEFAULT_API_PORT == 8081
    args = _parse(["--demo", "wss://cc.example.com/audiohook", "--api-port", "9443", "--api-key", "k",
                   "--client-secret", TEST_SECRET, "--speed", "2", "--language", "fr-FR"])
    assert args.url == "wss://cc.example.com/audiohook" and args.api_port == 9443
    config = cli._config(args)
    assert (config.api_key, config.client_secret, config.speed, config.language) == ("k", TEST_SECRET, 2.0, "fr-FR")
    assert not _parse(["ws://h/x"]).demo


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--demo", "--wav", "call.wav"], "drop --wav"),
        (["--demo", "--probe"], "--probe"),
        ([], "the URL is required"),
        (["--demo", "--api-port", "0"], "--api-port"),
    ],
)
def test_demo_refuses_what_does_not_go_with_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_transcript_url_follows_the_websocket_host() -> None:
    cid = "0b9e3d4e-5f0a-4e1b-9c2d-3a4b5c6d7e8f"
    assert conversation_url(DEMO_URL, cid) == f"http://127.0.0.1:8081/v1/conversations/{cid}"
    assert conversation_url("wss://cc.example.com/audiohook", cid, 443) == (
        f"https://cc.example.com:443/v1/conversations/{cid}"
    )
    assert conversation_url("ws://[::1]:9000/a", cid, 8082) == f"http://[::1]:8082/v1/conversations/{cid}"
    assert transcript_command("ws://10.0.0.5:8080/audiohook", cid) == (
        f"curl -s http://10.0.0.5:8081/v1/conversations/{cid}"
    )


# ---------------------------------------------------------------------------------------------
# a whole demo call against the real server (scripted engine)


async def test_demo_call_end_to_end(running: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"ws://127.0.0.1:{running.port}/audiohook"
    argv = [url, "--demo", "--api-key", "test-key", "--client-secret", TEST_SECRET, "--speed", "0",
            "--ping-interval", "0", "--api-port", "18081"]
    code = await trio.to_thread.run_sync(main, argv)
    out = capsys.readouterr().out
    assert code == 0, out

    match = re.search(r"^conversation ([0-9a-f-]{36})$", out, re.MULTILINE)
    assert match, out
    cid = match.group(1)
    finals = re.findall(r"^ch(\d) (\w+) .* FINAL", out, re.MULTILINE)
    by_channel = {ch: sum(1 for c, _ in finals if c == ch) for ch in ("0", "1")}
    assert ("0", "external") in finals and ("1", "internal") in finals
    assert by_channel["0"] >= 3 and by_channel["1"] >= 2, finals  # three customer turns, two agent turns
    # The last lines tell the newcomer how to read the transcript back, for this very call.
    follow_up = out[out.index("The call's transcript"):]
    assert f"curl -s http://127.0.0.1:18081/v1/conversations/{cid}" in follow_up
    assert "Authorization: Bearer" in follow_up  # an authenticated server: say where the token goes
    # The server transcribed both channels of that conversation.
    specs = running.engine.created
    assert len(specs) == 2, specs
    await assert_nothing_left(running)


async def test_demo_call_json_report_carries_the_follow_up(
    running: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"ws://127.0.0.1:{running.port}/audiohook"
    argv = [url, "--demo", "--api-key", "open-key", "--speed", "0", "--ping-interval", "0", "--json"]
    code = await trio.to_thread.run_sync(main, argv)
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    cid = report["call"]["conversation_id"]
    assert report["follow_up"] == [
        {"conversationId": cid, "command": f"curl -s http://127.0.0.1:8081/v1/conversations/{cid}"}
    ]
    channels = {t["channel"] for t in report["call"]["transcripts"] if t["is_final"]}
    assert channels == {"external", "internal"}
    await assert_nothing_left(running)
