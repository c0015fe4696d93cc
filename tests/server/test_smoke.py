"""The basic path through the real server: open, audio, transcripts, close."""

from __future__ import annotations

import numpy as np

from connector.testing.server import TEST_SECRET, RunningServer, assert_nothing_left
from tests.rawclient import STEREO, connect, silence, tone


async def test_open_audio_close_transcribes_both_channels(running: RunningServer) -> None:
    async with connect(running.port, secret=TEST_SECRET) as client:
        opened = await client.open()
        assert opened["type"] == "opened"
        assert opened["parameters"]["media"] == [STEREO]
        assert opened["parameters"]["startPaused"] is False
        # external speaks 1.0-2.0 s, internal 2.5-3.0 s
        external = [silence(1.0), tone(1.0), silence(2.0)]
        internal = [silence(2.5), tone(0.5), silence(1.0)]
        await client.audio(np.concatenate(external), np.concatenate(internal))
        await client.close()
    # One final per utterance, each in its own event, both before 'closed' (whether they came
    # before or after our 'close'); partials are off by default, and nothing else is sent.
    assert [m["type"] for m in client.received] == ["opened", "event", "event", "closed"]
    transcripts = client.transcripts(final=True)
    assert sorted((t["channelId"], t["offset"]) for t in transcripts) == [(0, "PT1S"), (1, "PT2.5S")]
    await assert_nothing_left(running)
