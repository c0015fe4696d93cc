"""The reference AudioHook client's scenarios, re-enacted against the real server on real sockets.

Each test mirrors one case of the reference jest suite (``test/audiohook-api-messages.test.ts``),
with :class:`~tests.conformance.refclient.ReferenceClient` validating every server message the
way the reference client does; the command-line client's modes are in
``test_reference_client_modes.py``, what both share in :mod:`tests.conformance.scenario_kit`.
"""

from __future__ import annotations

import pytest
import trio

from connector.simulator.referee import (
    TRANSCRIPT_INFO,
    TRANSCRIPT_INFO_LONGER,
    ReferenceViolation,
    check_supported_languages,
    common_validations,
    suite_duration,
    transcript_validations,
    validate_media_params,
)
from connector.testing.server import RunningServer, StartServer, assert_nothing_left
from tests.conformance.refclient import Timing
from tests.conformance.refmedia import PcmSource, ToneSource, media_offers
from tests.conformance.scenario_kit import assert_closed_cleanly, run_suite_wav, start, suite_wav, transcript_server

# ------------------------------------------------------------------------------ Open Message


@pytest.mark.parametrize(
    "channels",
    [
        [["external", "internal"], ["external"], ["internal"]],  # Double Stream Double Channel
        [["internal", "external"], ["internal"], ["external"]],  # ... Inverted
        [["external", "internal"]],  # Single Stream Double Channel
        [["external"]],  # Single Stream Single Channel External
        [["internal"]],  # Single Stream Single Channel Internal
    ],
    ids=["stereo+mono", "inverted", "stereo-only", "mono-external", "mono-internal"],
)
async def test_open_selects_one_offer_unchanged(
    nursery: trio.Nursery, running: RunningServer, channels: list[list[str]]
) -> None:
    offers = media_offers(*channels)
    client = await start(nursery, running, ToneSource(offered_media=offers))
    opened = client.view.opened_msg
    common_validations(opened, client.view)
    assert opened is not None and opened["type"] == "opened"
    validate_media_params(offers, opened["parameters"]["media"])
    assert opened["parameters"]["media"] == [offers[0]], "the server should take the first (best) offer"
    await client.close()
    assert_closed_cleanly(client)
    await assert_nothing_left(running)


# -------------------------------------------------------------------------- Audiohook Monitor


async def test_ping_pong(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, timing=Timing())  # real time: the pong must be server seq 2
    client.pinging()
    await client.wait_pong()
    await client.close()
    ping, pong = client.view.ping_msg, client.view.pong_msg
    assert ping is not None and pong is not None
    assert (ping["seq"], ping["serverseq"]) == (2, 1)
    assert (pong["seq"], pong["clientseq"]) == (2, 2)
    assert_closed_cleanly(client)


async def test_ping_pong_close(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, timing=Timing())
    client.pinging()
    await client.close()  # close goes out before the pong can arrive; the pong is then a straggler
    ping, pong = client.view.ping_msg, client.view.pong_msg
    assert ping is not None and pong is not None
    assert (ping["seq"], ping["serverseq"]) == (2, 1)
    assert (pong["seq"], pong["clientseq"]) == (2, 2)
    assert_closed_cleanly(client)


async def test_update_message(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    client.updating("en-US")
    await client.close()
    assert_closed_cleanly(client)
    assert [m["type"] for m in client.view.received if m["type"] != "event"][-2:] == ["updated", "closed"]


async def test_discarded_message(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    client.discarding("PT6.3S", "PT0.3S")
    await client.close()
    assert_closed_cleanly(client)


async def test_error_message_does_not_end_the_session(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    client.erroring(400, "tough stuff")
    client.pinging()
    await client.wait_pong()  # still served after the client's error
    await client.close()
    assert_closed_cleanly(client)
    assert client.disconnect_msg is None


async def test_pause_and_resume(nursery: trio.Nursery, running: RunningServer) -> None:
    """Two ``paused`` in a row (source + helper), 10 s of stream time, then ``resumed``."""
    client = await start(nursery, running)
    await client.wait_position(0.6)
    client.pausing()
    paused_at = client.source.position
    await client.wait_position(paused_at + 10.0)
    client.resuming()
    await client.wait_position(paused_at + 10.6)
    await client.close()
    assert_closed_cleanly(client)
    paused = client.sent_of("paused")
    assert len(paused) == 2 and paused[0]["seq"] + 1 == paused[1]["seq"]
    (resumed,) = client.sent_of("resumed")
    assert suite_duration(resumed["parameters"]["discarded"]) >= 10.0
    # The tone before and after the pause are two utterances per channel; nothing invented for the gap.
    transcript_validations(client.view.transcripts)
    finals = [(t["channelId"], suite_duration(t["offset"])) for t in client.view.transcripts if t["isFinal"]]
    assert sorted(f for f in finals if f[1] == 0.0) == [(0, 0.0), (1, 0.0)]
    after = [f for f in finals if f[1] != 0.0]
    assert sorted(channel for channel, _ in after) == [0, 1]  # one per channel, none lost at close
    assert all(offset >= paused_at + 10.0 for _, offset in after)


async def test_close_message(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running)
    await client.close()
    assert_closed_cleanly(client)


# ----------------------------------------------------------------------- Transcript Connector


async def test_supported_languages(nursery: trio.Nursery, running: RunningServer) -> None:
    client = await start(nursery, running, PcmSource([suite_wav()], max_seconds=11), supported_languages=True)
    await client.close()
    check_supported_languages(client.view.opened_msg)
    assert client.view.opened_msg is not None and client.view.opened_msg["parameters"]["supportedLanguages"]
    assert_closed_cleanly(client)


@pytest.mark.parametrize("stereo", [False, True], ids=["mono-wav", "stereo-wav"])
async def test_transcript_events(nursery: trio.Nursery, start_server: StartServer, stereo: bool) -> None:
    running = await transcript_server(start_server)
    client = await run_suite_wav(nursery, running, stereo=stereo)
    transcript_validations(client.view.transcripts, TRANSCRIPT_INFO)
    assert_closed_cleanly(client)
    assert client.sent_of("close")[0]["parameters"] == {"reason": "end"}


async def test_partials_on_would_break_the_suites_count(nursery: trio.Nursery, start_server: StartServer) -> None:
    """Why CONNECTOR_SEND_PARTIALS defaults to false: the suite counts every transcript event."""
    running = await transcript_server(start_server, partials=True)
    client = await run_suite_wav(nursery, running)
    # The count fails, on partials ('partial' in the kinds listed) and on nothing else: the
    # same finals without the partials pass, and no server message broke a reference rule
    # (a ReferenceViolation is an AssertionError too, so it must not be what is caught here).
    count = rf"^Number of transcripts returned is \d+ \(.*'partial'.*\), the suite expects {len(TRANSCRIPT_INFO)}$"
    with pytest.raises(AssertionError, match=count) as failure:
        transcript_validations(client.view.transcripts, TRANSCRIPT_INFO)
    assert not isinstance(failure.value, ReferenceViolation)
    transcript_validations([t for t in client.view.transcripts if t["isFinal"]], TRANSCRIPT_INFO)
    assert_closed_cleanly(client)


@pytest.mark.parametrize(
    ("action", "at", "expected"),
    [
        ("update", 8.0, TRANSCRIPT_INFO_LONGER),  # Test Update During Utterance: the utterance splits
        ("update", 6.3, TRANSCRIPT_INFO),  # Test Update During Silence
        ("discard", 8.0, TRANSCRIPT_INFO),  # Test Discard During Utterance (claims 0.5 s, sends it all)
        ("discard", 6.3, TRANSCRIPT_INFO),  # Test Discard During Silence
        ("pause", 8.0, TRANSCRIPT_INFO_LONGER),  # Test Pause & Resume During Utterance
        ("pause", 6.1, TRANSCRIPT_INFO),  # Test Pause & Resume During Silence
    ],
    ids=[
        "update-utterance",
        "update-silence",
        "discard-utterance",
        "discard-silence",
        "pause-utterance",
        "pause-silence",
    ],
)
async def test_transcripts_around_client_messages(
    nursery: trio.Nursery,
    start_server: StartServer,
    action: str,
    at: float,
    expected: tuple[tuple[float, float], ...],
) -> None:
    running = await transcript_server(start_server)
    client = await run_suite_wav(nursery, running, action, at)
    transcript_validations(client.view.transcripts, expected)
    assert_closed_cleanly(client)


async def test_discard_the_client_did_not_perform_moves_nothing(
    nursery: trio.Nursery, start_server: StartServer
) -> None:
    running = await transcript_server(start_server)
    client = await run_suite_wav(nursery, running, "discard", 8.0)
    assert [(t["offset"], t["duration"]) for t in client.view.transcripts][-1] == ("PT6.7S", "PT2.6S")
