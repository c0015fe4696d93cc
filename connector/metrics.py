"""Prometheus metrics: the :class:`~connector.observe.Observer` hooks as counters and histograms.

Operators size a deployment by two questions -- how many calls a core carries and how fast a
transcript comes back -- so the metrics answer those first: sessions by outcome, ``opened`` and
end-of-speech → final latency, event-loop lag, worker threads in use, and the backpressure
counters that must stay at zero.

Each server gets its own :class:`CollectorRegistry` (tests run several servers in one
process, and nothing here touches the global registry). Label values come only from small
fixed sets or from the configured engine names: never a session, conversation or
organization id, which would grow the series without bound. Unknown values map to
``"other"``.

``/metrics`` is served on the public port by :mod:`connector.server.metrics_route`; set
``CONNECTOR_METRICS_TOKEN`` to require ``Authorization: Bearer <token>`` (compared in constant time).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial

import trio
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from .envparse import EnvReader
from .loop_lag import watch_loop_lag
from .observe import NullObserver, Observer
from .report import Outcome, SessionReport
from .translate.ordering import TRANSLATION_OUTCOMES

__all__ = ["MetricsBundle", "MetricsSettings", "PrometheusObserver", "build_metrics"]

NAMESPACE = "connector"

OPENED_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
TRANSCRIPT_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
WEBHOOK_REASONS = (
    "timeout", "network", "throttled", "server_error", "refused", "auth", "error", "disabled",
    "max_age", "unknown_subscription",
)  # fmt: skip
"""Reasons a webhook attempt fails or a delivery dies (bounded label values)."""
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0)

MESSAGE_TYPES = frozenset(
    {"opened", "pong", "event", "closed", "disconnect", "updated", "paused", "resumed", "reconnect", "error"}
)
REFUSAL_REASONS = frozenset({"unauthorized", "bad_request", "draining", "busy", "upgrade_required"})
BACKPRESSURE_KINDS = frozenset({"partial_superseded", "partial_dropped", "events_batched"})
MAX_ENGINE_LABELS = 16
"""Engine names come from configuration; this cap keeps a misbehaving plug-in from growing series."""

MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = True
    token: str | None = None
    loop_lag_interval: float = 0.1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MetricsSettings:
        """Read ``CONNECTOR_METRICS*``; raise :class:`~connector.envparse.ConfigError` listing every problem."""
        read = EnvReader(env, collect=True)
        enabled = read.flag("CONNECTOR_METRICS", True)
        token = read.text("CONNECTOR_METRICS_TOKEN") or None
        if token is not None and (
            len(token) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable() or " " in token
        ):
            read.problem(
                f"CONNECTOR_METRICS_TOKEN: must be at least {MIN_TOKEN_LENGTH} printable ASCII characters "
                "without spaces (it is sent as 'Authorization: Bearer <token>')"
            )
        interval = read.number("CONNECTOR_LOOP_LAG_INTERVAL", 0.1, low=0.001, high=60)
        read.raise_problems()
        return cls(enabled=enabled, token=token, loop_lag_interval=interval)


def _bounded(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else "other"


class PrometheusObserver:
    """Implements :class:`~connector.observe.Observer`; every hook is a few dict look-ups and a locked add."""

    def __init__(self, registry: CollectorRegistry, limiter: trio.CapacityLimiter) -> None:
        self.registry = registry
        r = registry
        self.sessions_active = Gauge(f"{NAMESPACE}_sessions_active", "Sessions being served now", registry=r)
        self.sessions = Counter(
            f"{NAMESPACE}_sessions", "Sessions that ended, by outcome", ["outcome"], registry=r
        )
        self._outcome = {o: self.sessions.labels(o.value) for o in Outcome}
        self.refused = Counter(
            f"{NAMESPACE}_upgrades_refused",
            "WebSocket upgrades refused before a session started, by HTTP status and reason",
            ["status", "reason"],
            registry=r,
        )
        self.opened_latency = Histogram(
            f"{NAMESPACE}_opened_latency_seconds",
            "From receiving 'open' to writing 'opened'",
            buckets=OPENED_BUCKETS,
            registry=r,
        )
        self.final_latency = Histogram(
            f"{NAMESPACE}_final_latency_seconds",
            "From receiving the last audio of an utterance to sending its final transcript, per engine",
            ["engine"],
            buckets=TRANSCRIPT_BUCKETS,
            registry=r,
        )
        self.partial_latency = Histogram(
            f"{NAMESPACE}_partial_latency_seconds",
            "From receiving the last audio a partial covers to sending it, per engine",
            ["engine"],
            buckets=TRANSCRIPT_BUCKETS,
            registry=r,
        )
        self.transcripts = Counter(
            f"{NAMESPACE}_transcripts_sent",
            "Transcript entities sent, per engine and kind (final or partial)",
            ["engine", "kind"],
            registry=r,
        )
        self.messages = Counter(
            f"{NAMESPACE}_messages_sent", "Protocol messages written, by type", ["type"], registry=r
        )
        self._message = {t: self.messages.labels(t) for t in (*MESSAGE_TYPES, "other")}
        self.queue_depth = Gauge(
            f"{NAMESPACE}_sender_queue_depth", "Transcript events waiting in senders (all sessions)", registry=r
        )
        self.delayed = Counter(
            f"{NAMESPACE}_sender_delay_seconds",
            "Time transcript events were held back: cause=rate (token bucket) or backoff (client 429)",
            ["cause"],
            registry=r,
        )
        self._delay = {c: self.delayed.labels(c) for c in ("rate", "backoff", "other")}
        self.backpressure_events = Counter(
            f"{NAMESPACE}_backpressure_events",
            "Transcript events superseded, dropped or batched under load (dropped should stay 0)",
            ["what"],
            registry=r,
        )
        self._backpressure = {w: self.backpressure_events.labels(w) for w in (*BACKPRESSURE_KINDS, "other")}
        self.audio_dropped = Counter(
            f"{NAMESPACE}_audio_dropped_seconds",
            "Audio not transcribed because an engine fell behind real time (should stay 0)",
            registry=r,
        )
        self.translations = Counter(
            f"{NAMESPACE}_translations",
            "Items through call translators, by outcome (translated, timeouts, errors, fallbacks, skipped, ...)",
            ["outcome"],
            registry=r,
        )
        self._translation = {o: self.translations.labels(o) for o in (*TRANSLATION_OUTCOMES, "other")}
        self.engine_errors = Counter(f"{NAMESPACE}_engine_errors", "Recognizer failures", ["engine"], registry=r)
        self.engine_restarts = Counter(
            f"{NAMESPACE}_engine_restarts", "Recognizers restarted within a session (update)", ["engine"], registry=r
        )
        # Added to on every audio frame of every call: a plain float read at scrape time, not a
        # locked Counter (the server's sessions all run on one thread).
        self.audio_received_total = 0.0
        r.register(_AudioReceived(self))
        self.audio_discarded_seconds = Counter(
            f"{NAMESPACE}_audio_discarded_seconds", "Audio the client reported as discarded", registry=r
        )
        self.loop_lag = Histogram(
            f"{NAMESPACE}_event_loop_lag_seconds",
            "How late a fixed-interval sleep on the event loop wakes",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.gc_pause = Histogram(
            f"{NAMESPACE}_gc_pause_seconds",
            "Pauses of Python's cyclic garbage collector, by generation (they stop the event loop)",
            ["generation"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.store_write_seconds = Histogram(
            f"{NAMESPACE}_store_write_seconds",
            "Time to write one batch to the transcript store (in its worker thread)",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.store_rows = Counter(f"{NAMESPACE}_store_rows_written", "Records written to the store", registry=r)
        self.store_failures = Counter(
            f"{NAMESPACE}_store_write_failures", "Store writes that failed and were retried", registry=r
        )
        self.store_dropped_rows = Counter(
            f"{NAMESPACE}_store_dropped",
            "Transcripts sent to Genesys but dropped from a full store spool (should stay 0)",
            registry=r,
        )
        self.store_backlog_rows = Gauge(f"{NAMESPACE}_store_backlog", "Records waiting for the store", registry=r)
        self.webhook_latency = Histogram(
            f"{NAMESPACE}_webhook_delivery_seconds",
            "From queuing a webhook delivery to the receiver accepting it (retries included)",
            buckets=TRANSCRIPT_BUCKETS,
            registry=r,
        )
        self.webhook_attempts = Histogram(
            f"{NAMESPACE}_webhook_attempts",
            "Attempts a delivery took until it was accepted",
            buckets=(1, 2, 3, 5, 10, 20, 50),
            registry=r,
        )
        self.webhook_failures = Counter(
            f"{NAMESPACE}_webhook_attempt_failures", "Webhook attempts that failed (retried), by reason", ["reason"],
            registry=r,
        )  # fmt: skip
        self.webhook_dead_letters = Counter(
            f"{NAMESPACE}_webhook_dead_letters", "Webhook deliveries dead-lettered, by reason", ["reason"], registry=r
        )
        self.webhook_pending = Gauge(f"{NAMESPACE}_webhook_backlog", "Webhook deliveries pending", registry=r)
        in_use = Gauge(f"{NAMESPACE}_worker_threads_in_use", "Worker-thread tokens borrowed now", registry=r)
        in_use.set_function(lambda: float(limiter.borrowed_tokens))
        total = Gauge(f"{NAMESPACE}_worker_threads_limit", "Worker-thread tokens available in total", registry=r)
        total.set_function(lambda: float(limiter.total_tokens))
        threads = Gauge(f"{NAMESPACE}_python_threads", "Live Python threads in the process", registry=r)
        threads.set_function(lambda: float(threading.active_count()))
        self._engines: dict[str, str] = {}

    def _engine(self, engine: str) -> str:
        label = self._engines.get(engine)
        if label is None:
            label = engine if len(self._engines) < MAX_ENGINE_LABELS else "other"
            self._engines[engine] = label
        return label

    # ------------------------------------------------------------ Observer

    def session_started(self) -> None:
        self.sessions_active.inc()

    def session_ended(self, report: SessionReport) -> None:
        self.sessions_active.dec()
        self._outcome[report.outcome].inc()

    def upgrade_refused(self, status: int, reason: str) -> None:
        self.refused.labels(str(status) if 100 <= status <= 599 else "other", _bounded(reason, REFUSAL_REASONS)).inc()

    def opened_sent(self, seconds: float) -> None:
        self.opened_latency.observe(seconds)

    def transcript_sent(self, engine: str, is_final: bool, seconds: float | None) -> None:
        label = self._engine(engine)
        self.transcripts.labels(label, "final" if is_final else "partial").inc()
        if seconds is not None:
            (self.final_latency if is_final else self.partial_latency).labels(label).observe(max(0.0, seconds))

    def message_sent(self, message_type: str) -> None:
        self._message.get(message_type, self._message["other"]).inc()

    def sender_delayed(self, cause: str, seconds: float) -> None:
        self._delay.get(cause, self._delay["other"]).inc(max(0.0, seconds))

    def sender_queue_depth(self, depth: int) -> None:
        self.queue_depth.inc(depth)

    def backpressure(self, what: str, amount: float) -> None:
        if what == "audio_dropped_seconds":
            self.audio_dropped.inc(max(0.0, amount))  # live, as it happens (a long call shows it at once)
            return
        self._backpressure.get(what, self._backpressure["other"]).inc(max(0.0, amount))

    def translation(self, outcome: str) -> None:
        self._translation.get(outcome, self._translation["other"]).inc()

    def engine_error(self, engine: str) -> None:
        self.engine_errors.labels(self._engine(engine)).inc()

    def engine_restart(self, engine: str) -> None:
        self.engine_restarts.labels(self._engine(engine)).inc()

    def audio_received(self, seconds: float) -> None:
        self.audio_received_total += seconds

    def audio_discarded(self, seconds: float) -> None:
        self.audio_discarded_seconds.inc(seconds)

    def store_written(self, rows: int, seconds: float) -> None:
        self.store_rows.inc(rows)
        self.store_write_seconds.observe(max(0.0, seconds))

    def store_failed(self) -> None:
        self.store_failures.inc()

    def store_dropped(self, rows: int) -> None:
        self.store_dropped_rows.inc(rows)

    def store_backlog(self, rows: int) -> None:
        self.store_backlog_rows.set(rows)

    def webhook_delivered(self, seconds_since_created: float, attempts: int) -> None:
        self.webhook_latency.observe(max(0.0, seconds_since_created))
        self.webhook_attempts.observe(attempts)

    def webhook_attempt_failed(self, reason: str) -> None:
        self.webhook_failures.labels(_bounded(reason, WEBHOOK_REASONS)).inc()

    def webhook_dead(self, reason: str) -> None:
        self.webhook_dead_letters.labels(_bounded(reason, WEBHOOK_REASONS)).inc()

    def webhook_backlog(self, count: int) -> None:
        self.webhook_pending.set(count)


async def watch_gc_pauses(histogram: Histogram) -> None:
    """Time every collection while this task runs (``gc.callbacks`` is process-wide, so the
    callback lives exactly as long as the server that owns the histogram)."""
    children = {generation: histogram.labels(str(generation)) for generation in (0, 1, 2)}
    started = 0.0

    def callback(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started)

    gc.callbacks.append(callback)
    try:
        await trio.sleep_forever()
    finally:
        gc.callbacks.remove(callback)


class _AudioReceived(Collector):
    """``connector_audio_received_seconds_total`` from the observer's running sum."""

    def __init__(self, observer: PrometheusObserver) -> None:
        self.observer = observer

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(f"{NAMESPACE}_audio_received_seconds", "Audio received (stream seconds)")
        family.add_metric([], self.observer.audio_received_total)
        yield family


@dataclass
class MetricsBundle:
    """What :class:`~connector.server.ConnectorServer` takes: ``observer=``, ``background=``, and for
    ``routes=`` the registry and token that :func:`connector.server.metrics_route.metrics_routes` serves."""

    observer: Observer
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    registry: CollectorRegistry | None = None
    token: str | None = None


def build_metrics(env: Mapping[str, str], limiter: trio.CapacityLimiter) -> MetricsBundle:
    """Metrics for one server; ``limiter`` must be the server's worker-thread limiter."""
    settings = MetricsSettings.from_env(env)
    if not settings.enabled:
        return MetricsBundle(observer=NullObserver())
    # ``*_created`` series double the output and no dashboard of ours reads them. This is a
    # process-wide switch in prometheus-client; every registry in this process is ours.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    observer = PrometheusObserver(registry, limiter)
    probe = partial(watch_loop_lag, settings.loop_lag_interval, observer.loop_lag.observe)
    return MetricsBundle(
        observer=observer,
        background=[probe, partial(watch_gc_pauses, observer.gc_pause)],
        registry=registry,
        token=settings.token,
    )
