"""``/metrics`` on the real server: a session's life moves the right series, the text parses,
labels stay bounded, the bearer token is enforced, and each server has its own registry."""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import trio
import trio.testing
import trio_websocket
from prometheus_client.parser import text_string_to_metric_families

from connector.config import ConfigError
from connector.metrics import MetricsBundle, PrometheusObserver, build_metrics
from connector.nursery import Outcome, SessionReport
from connector.observe import NullObserver
from connector.server.metrics_route import metrics_routes
from connector.testing.server import TEST_SECRET, RunningServer, StartServer, assert_nothing_left
from tests.rawclient import connect, silence, tone

TOKEN = "metrics-token-0123456789abcdef"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def http_get(port: int, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of one GET on the public port."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
            raw = b""
            while data := await stream.receive_some(65536):
                raw += data
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    content_type = ""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-type:"):
            content_type = line.split(b":", 1)[1].strip().decode()
    return status, content_type, body


async def scrape(port: int, token: str | None = None) -> tuple[Samples, str]:
    status, content_type, body = await http_get(port, "/metrics", {"Authorization": f"Bearer {token}"} if token else {})
    assert status == 200
    assert content_type.startswith("text/plain")
    text = body.decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def start_with_metrics(start_server: StartServer, env: Mapping[str, str] | None = None, **overrides: Any
                             ) -> tuple[RunningServer, MetricsBundle]:
    limiter = trio.CapacityLimiter(2)
    bundle = build_metrics(env or {}, limiter)
    routes = metrics_routes(bundle)
    kwargs = {"observer": bundle.observer, "routes": routes, "background": bundle.background, "limiter": limiter}
    running = await start_server(server_kwargs=kwargs, **overrides)
    return running, bundle


async def test_a_session_moves_the_session_latency_message_and_audio_series(start_server: StartServer) -> None:
    running, _ = await start_with_metrics(start_server)
    async with connect(running.port, secret=TEST_SECRET) as client:
        session_id = client.session_id
        opened = await client.open()
        assert opened["type"] == "opened"
        during, _ = await scrape(running.port)
        assert value(during, "connector_sessions_active") == 1
        await client.send("ping")
        await client.expect("pong")
        # external speaks 0.5-1.5 s, internal 2.0-2.5 s: one final per channel
        await client.audio(
            np.concatenate([silence(0.5), tone(1.0), silence(1.5)]),
            np.concatenate([silence(2.0), tone(0.5), silence(0.5)]),
        )
        client.discarded += 1.5  # a client that skips audio reports a position past the gap
        await client.send("discarded", {"start": "PT3S", "discarded": "PT1.5S"})
        await client.close()
    await assert_nothing_left(running)

    after, text = await scrape(running.port)
    assert value(after, "connector_sessions_active") == 0
    assert value(after, "connector_sessions_total", outcome="completed") == 1
    for other in ("error", "vanished", "disconnected", "unauthorized", "probe"):
        assert value(after, "connector_sessions_total", outcome=other) == 0
    assert value(after, "connector_opened_latency_seconds_count") == 1
    assert 0 < value(after, "connector_opened_latency_seconds_sum") < 1
    for message_type in ("opened", "pong", "closed"):
        assert value(after, "connector_messages_sent_total", type=message_type) == 1
    assert value(after, "connector_messages_sent_total", type="event") >= 1
    assert value(after, "connector_transcripts_sent_total", engine="scripted", kind="final") == 2
    assert value(after, "connector_final_latency_seconds_count", engine="scripted") == 2
    assert value(after, "connector_audio_received_seconds_total") == pytest.approx(3.0)
    assert value(after, "connector_audio_discarded_seconds_total") == pytest.approx(1.5)
    assert value(after, "connector_sender_queue_depth") == 0
    assert value(after, "connector_worker_threads_limit") == 2
    assert value(after, "connector_worker_threads_in_use") == 0
    assert value(after, "connector_audio_dropped_seconds_total") == 0
    assert value(after, "connector_backpressure_events_total", what="partial_dropped") == 0
    # bounded labels: no identifier of the call ever becomes a label value
    assert session_id not in text
    assert not UUID.search(text), "an id became a label value"


async def test_refusals_probes_vanished_clients_and_restarts_are_counted(start_server: StartServer) -> None:
    running, _ = await start_with_metrics(start_server)
    with pytest.raises(trio_websocket.ConnectionRejected):
        async with connect(running.port, api_key="no-such-key"):
            pass
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open(probe=True)
        await client.close()
    async with connect(running.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.send("update", {"language": "es-ES"})
        await client.expect("updated")
        await client.audio(tone(0.2))
        # leave without 'close': the server sees the client vanish
    await assert_nothing_left(running)

    samples, _ = await scrape(running.port)
    assert value(samples, "connector_upgrades_refused_total", status="401", reason="unauthorized") == 1
    assert value(samples, "connector_sessions_total", outcome="probe") == 1
    assert value(samples, "connector_sessions_total", outcome="vanished") == 1
    assert value(samples, "connector_sessions_total", outcome="completed") == 0
    assert value(samples, "connector_engine_restarts_total", engine="scripted") == 1


async def test_bearer_token_is_required_when_configured(start_server: StartServer) -> None:
    running, _ = await start_with_metrics(start_server, {"CONNECTOR_METRICS_TOKEN": TOKEN})
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}):
        status, content_type, body = await http_get(running.port, "/metrics", headers)
        assert status == 401
        assert content_type == "application/json"
        assert json.loads(body)["error"] == "unauthorized"
        assert TOKEN.encode() not in body
    samples, _ = await scrape(running.port, TOKEN)
    assert ("connector_sessions_active", frozenset()) in samples
    status, _, _ = await http_get(running.port, "/health")
    assert status == 200  # the token guards /metrics only


async def test_each_server_has_its_own_registry(start_server: StartServer) -> None:
    first, _ = await start_with_metrics(start_server)
    second, _ = await start_with_metrics(start_server)
    async with connect(first.port, secret=TEST_SECRET) as client:
        await client.open()
        await client.close()
    await first.idle()
    one, _ = await scrape(first.port)
    two, _ = await scrape(second.port)
    assert value(one, "connector_sessions_total", outcome="completed") == 1
    assert value(two, "connector_sessions_total", outcome="completed") == 0


async def test_loop_lag_probe_records_how_late_the_loop_wakes(
    start_server: StartServer, autojump_clock: trio.testing.MockClock
) -> None:
    limiter = trio.CapacityLimiter(1)
    bundle = build_metrics({"CONNECTOR_LOOP_LAG_INTERVAL": "0.1"}, limiter)
    assert isinstance(bundle.observer, PrometheusObserver)
    async with trio.open_nursery() as nursery:
        for task in bundle.background:
            nursery.start_soon(task)
        await trio.sleep(1.05)  # ten punctual wake-ups
        autojump_clock.jump(0.35)  # as if a synchronous call held the loop for 350 ms
        await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert bundle.registry is not None
    count = bundle.registry.get_sample_value("connector_event_loop_lag_seconds_count") or 0.0
    late = count - (bundle.registry.get_sample_value("connector_event_loop_lag_seconds_bucket", {"le": "0.25"}) or 0)
    assert count == 11
    assert late == 1  # exactly the blocked wake-up is later than 250 ms


async def test_gc_pauses_are_timed_while_the_server_runs() -> None:
    bundle = build_metrics({}, trio.CapacityLimiter(1))
    assert bundle.registry is not None and isinstance(bundle.observer, PrometheusObserver)
    callbacks = len(gc.callbacks)
    async with trio.open_nursery() as nursery:
        for task in bundle.background:
            nursery.start_soon(task)
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        nursery.cancel_scope.cancel()
    full = bundle.registry.get_sample_value("connector_gc_pause_seconds_count", {"generation": "2"})
    assert full is not None and full >= 1
    assert len(gc.callbacks) == callbacks  # the process-wide hook left with the server


def test_every_hook_moves_its_series_and_unknown_labels_collapse_to_other() -> None:
    bundle = build_metrics({}, trio.CapacityLimiter(3))
    observer, registry = bundle.observer, bundle.registry
    assert isinstance(observer, PrometheusObserver) and registry is not None
    observer.session_started()
    observer.session_ended(SessionReport(outcome=Outcome.DISCONNECTED))
    observer.upgrade_refused(503, "draining")
    observer.upgrade_refused(400, "something-new")
    observer.transcript_sent("google", False, 0.4)
    observer.transcript_sent("google", True, None)
    observer.message_sent("made-up-type")
    observer.sender_delayed("rate", 0.5)
    observer.sender_delayed("backoff", 1.5)
    observer.sender_queue_depth(3)
    observer.sender_queue_depth(-1)
    observer.backpressure("partial_superseded", 1)
    observer.backpressure("events_batched", 4)
    observer.backpressure("audio_dropped_seconds", 0.75)  # counted as it happens
    observer.engine_error("google")
    report = SessionReport(outcome=Outcome.ERROR)
    report.transcription.audio_dropped_seconds = 0.75  # the report's view of the same drop: not counted twice
    observer.session_started()
    observer.session_ended(report)

    def get(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    assert get("connector_sessions_total", outcome="disconnected") == 1
    assert get("connector_sessions_total", outcome="error") == 1
    assert get("connector_sessions_active") == 0
    assert get("connector_upgrades_refused_total", status="503", reason="draining") == 1
    assert get("connector_upgrades_refused_total", status="400", reason="other") == 1
    assert get("connector_partial_latency_seconds_count", engine="google") == 1
    assert get("connector_final_latency_seconds_count", engine="google") == 0
    assert get("connector_transcripts_sent_total", engine="google", kind="final") == 1
    assert get("connector_messages_sent_total", type="other") == 1
    assert get("connector_sender_delay_seconds_total", cause="rate") == 0.5
    assert get("connector_sender_delay_seconds_total", cause="backoff") == 1.5
    assert get("connector_sender_queue_depth") == 2
    assert get("connector_backpressure_events_total", what="partial_superseded") == 1
    assert get("connector_backpressure_events_total", what="events_batched") == 4
    assert get("connector_audio_dropped_seconds_total") == 0.75
    assert get("connector_engine_errors_total", engine="google") == 1
    assert get("connector_worker_threads_limit") == 3


def test_engine_labels_are_capped() -> None:
    bundle = build_metrics({}, trio.CapacityLimiter(1))
    observer, registry = bundle.observer, bundle.registry
    assert isinstance(observer, PrometheusObserver) and registry is not None
    for n in range(40):
        observer.engine_error(f"engine-{n}")
    labels = {s.labels["engine"] for m in registry.collect() if m.name == "connector_engine_errors" for s in m.samples}
    assert len(labels) == 17
    assert "other" in labels


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"CONNECTOR_METRICS": "maybe"}, "CONNECTOR_METRICS"),
        ({"CONNECTOR_METRICS_TOKEN": "short"}, "CONNECTOR_METRICS_TOKEN"),
        ({"CONNECTOR_METRICS_TOKEN": "has a space in the middle!"}, "CONNECTOR_METRICS_TOKEN"),
        ({"CONNECTOR_LOOP_LAG_INTERVAL": "0"}, "CONNECTOR_LOOP_LAG_INTERVAL"),
        ({"CONNECTOR_LOOP_LAG_INTERVAL": "fast"}, "CONNECTOR_LOOP_LAG_INTERVAL"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_variable(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        build_metrics(env, trio.CapacityLimiter(1))


def test_metrics_can_be_turned_off() -> None:
    bundle = build_metrics({"CONNECTOR_METRICS": "false"}, trio.CapacityLimiter(1))
    assert isinstance(bundle.observer, NullObserver)
    assert metrics_routes(bundle) == {}
    assert bundle.background == []
