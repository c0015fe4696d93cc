"""The sans-IO client machine and message builder, driven directly: no trio, no sockets, times given."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from connector.simulator import AudioSource, CallConfig, CallResult, PauseAt
from connector.simulator.builder import MessageBuilder, fine_duration
from connector.simulator.machine import ClientMachine
from connector.simulator.referee import ClientView
from connector.vocabulary import SAMPLE_RATE

SID = str(uuid.uuid4())


def machine(**kw: Any) -> ClientMachine:
    kw.setdefault("api_key", "k")
    config = CallConfig(url="ws://127.0.0.1:1/audiohook", session_id=SID, **kw)
    return ClientMachine(config, AudioSource.silence(10.0), CallResult(session_id=SID, conversation_id=SID))


def server(msg_type: str, seq: int, clientseq: int = 1, **params: Any) -> str:
    return json.dumps(
        {"version": "2", "type": msg_type, "id": SID, "seq": seq, "clientseq": clientseq, "parameters": params}
    )


def opened(m: ClientMachine, **params: Any) -> None:
    m.open(0.0)
    params.setdefault("media", [m.cfg.media_offers[0]])
    reaction = m.receive(server("opened", 1, **params), 0.1)
    assert reaction.opened and m.state == "OPEN"


def test_builder_stamps_seq_serverseq_position_and_overrides() -> None:
    out = MessageBuilder(SID)
    first = out.open({"x": 1})
    out.serverseq, out.pos = 4, SAMPLE_RATE * 3 // 2
    second = out.discarded(SAMPLE_RATE, SAMPLE_RATE // 4)
    assert (first["seq"], first["serverseq"], first["position"]) == (1, 0, "PT0S")
    assert (second["seq"], second["serverseq"], second["position"]) == (2, 4, "PT1.5S")
    assert second["parameters"] == {"start": "PT1S", "discarded": "PT0.25S"}
    bad = out.message("ping", overrides={"version": "3", "seq": 99})
    assert (bad["version"], bad["seq"], out.seq) == ("3", 99, 3)
    assert out.ping(0.0123456789)["parameters"] == {"rtt": "PT0.012345679S"}
    error = out.error(429, "slow", retry_after=2.5)
    assert error["parameters"] == {"code": 429, "message": "slow", "retryAfter": "PT2.5S"}


def test_builder_counters_can_live_in_a_reference_view() -> None:
    view = ClientView(SID, [])
    out = MessageBuilder(SID, counters=view, duration=fine_duration)
    view.serverseq = 7
    message = out.close("end")
    assert view.seq == 1 and message["serverseq"] == 7
    out.pos = 1
    assert out.paused()["position"] == "PT0.000125S"  # one sample, at the reference's resolution


def test_opened_with_discard_to_and_start_paused_answers_in_order() -> None:
    m = machine()
    m.open(0.0)
    reaction = m.receive(server("opened", 1, media=[m.cfg.media_offers[0]], discardTo="PT2S", startPaused=True), 0.5)
    assert [s["type"] for s in reaction.sends] == ["discarded", "paused"]
    assert reaction.sends[0]["parameters"] == {"start": "PT0S", "discarded": "PT2S"}
    assert reaction.sends[1]["position"] == "PT2S" and reaction.sends[1]["seq"] == 3
    assert reaction.opened and reaction.pause_changed and m.stream.paused
    assert m.r.opened_latency == pytest.approx(0.5) and m.stream.channels == ("external", "internal")


def test_ping_pong_measures_the_round_trip() -> None:
    m = machine()
    opened(m)
    ping = m.ping(2.0)
    reaction = m.receive(server("pong", 2, clientseq=ping["seq"]), 2.25)
    assert reaction.pong and m.r.pong_latencies == [pytest.approx(0.25)] and m.view.pending_ping is None
    assert m.ping(3.0)["parameters"] == {"rtt": "PT0.25S"}


def test_seq_gap_is_answered_once_and_resynced() -> None:
    m = machine()
    opened(m)
    reaction = m.receive(server("updated", 3), 1.0)
    assert [(e.code, e.fatal) for e in m.r.protocol_errors] == [(500, True)]
    assert [s["type"] for s in reaction.sends] == ["error"] and reaction.stop and m.state == "CLOSING-ERROR"
    assert reaction.sends[0]["serverseq"] == 1  # answered before the out-of-order message is taken in
    m.receive(server("updated", 4), 1.1)
    assert len(m.r.protocol_errors) == 1 and m.r.updated_received == 2


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\x00", 415),
        (server("pong", 2).replace('"clientseq": 1', '"clientseq": NaN'), 400),  # JSON.parse has no NaN
        (server("pong", 2).replace(SID, SID[:14] + "7" + SID[15:]), 400),  # UUID version 7: the reference regex
        (server("event", 2, entities=[]), 500),  # entities[0] crashes the reference client
        (server("event", 2, entities=[{"type": "transcript", "data": None}]), 500),  # isJsonValue(null)
        (server("opened", 2, media=[]), 409),
    ],
)
def test_what_the_reference_client_rejects_the_simulator_rejects(raw: str | bytes, code: int) -> None:
    m = machine()
    opened(m)
    reaction = m.receive(raw, 1.0)
    assert [(e.code, e.fatal) for e in m.r.protocol_errors] == [(code, True)]
    assert reaction.sends[0]["parameters"]["code"] == code and reaction.stop


def test_server_pause_in_advance_mode_skips_the_paused_audio() -> None:
    m = machine(pause_mode="advance")
    opened(m)
    m.stream.frame(SAMPLE_RATE, 1.0)
    paused = m.receive(server("pause", 2), 1.0).sends
    resumed = m.receive(server("resume", 3), 3.0).sends
    assert [s["type"] for s in paused + resumed] == ["paused", "resumed"]
    assert resumed[0]["parameters"] == {"start": "PT1S", "discarded": "PT2S"} and m.stream.pos == 3 * SAMPLE_RATE


def test_client_pause_held_by_the_server_ends_with_the_servers_resume() -> None:
    m = machine(pause_mode="freeze", injections=(PauseAt(1.0, 1.0),))
    opened(m)
    assert m.stream.enter_pause(by_server=False, now=1.0)["type"] == "paused"
    m.receive(server("pause", 2), 1.5)
    assert m.stream.end_client_pause(resume_time=2.0, nominal=SAMPLE_RATE) is None
    resumed = m.receive(server("resume", 3), 2.5).sends
    assert resumed[0]["parameters"] == {"start": "PT0S", "discarded": "PT0S"} and not m.stream.paused


def test_close_transaction_and_a_second_closed() -> None:
    m = machine()
    opened(m)
    assert m.close("end")["parameters"] == {"reason": "end"}
    assert m.receive(server("closed", 2, clientseq=2), 4.0).closed
    m.finish(3.5)
    assert m.r.close_latency == pytest.approx(0.5) and m.state == "CLOSED" and m.r.ok
    m.receive(server("closed", 3, clientseq=2), 4.1)
    assert [e.code for e in m.r.protocol_errors] == [409]


def test_disconnect_requests_a_close_once() -> None:
    m = machine()
    opened(m)
    assert m.receive(server("disconnect", 2, reason="completed", info="bye"), 1.0).stop
    assert not m.receive(server("disconnect", 3, reason="error"), 1.1).stop
    assert (m.r.disconnect_reason, m.r.disconnect_info, m.close_reason) == ("completed", "bye", "disconnect")
