"""Optional server parts chosen by configuration: translation, metrics.

Kept apart from the CLI so that tests and benchmarks build exactly the server the CLI does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import trio

from .api import ApiService, ApiSettings, start_check
from .api.webhooks import phrase_rule_records
from .asr import EngineRegistry
from .config import Settings
from .envparse import ConfigError, EnvReader
from .nursery.transcription import Pipeline
from .observe import Observer
from .phrases import phrase_rules_from_env
from .protocol import CallSettings
from .redaction import Mode
from .server import ConnectorServer, Route
from .server.app import Service
from .store.service import StoreService
from .store.settings import StoreSettings
from .webhooks import Deliverer, WebhookSettings

__all__ = ["Extensions", "TranslationParts", "build_extensions", "translation_parts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslationParts:
    """The translation keywords of :class:`~connector.server.ConnectorServer`."""

    pipeline_for: Callable[[CallSettings], Pipeline | None]
    """The translation pipeline a call gets, or ``None`` for none."""
    translation_check: Callable[[Mapping[str, Any]], str | None]
    """Why a call's ``customConfig`` cannot be translated here (the ``info`` of the refusal), or ``None``."""
    services: tuple[Service, ...]
    """The translator, started and closed with the server; empty without one."""


@dataclass(frozen=True)
class Extensions:
    """Everything :class:`~connector.server.ConnectorServer` takes beyond the settings and the engines."""

    limiter: trio.CapacityLimiter
    """The server's worker-thread limiter (the metrics report its tokens)."""
    observer: Observer
    routes: Mapping[str, Route]
    """Extra GET routes (``/metrics``)."""
    background: tuple[Callable[[], Awaitable[None]], ...]
    """Tasks run while the server serves (loop-lag probe, GC pause timer, scheduled full collections)."""
    translation: TranslationParts
    store: StoreParts | None = None
    """The transcript store and its deliverer (``None`` with ``CONNECTOR_STORE_URL=off``)."""
    api: ApiSettings | None = None
    """The control API's settings (``None``: no API; it needs the store)."""

    def server(self, settings: Settings, engines: EngineRegistry) -> ConnectorServer:
        """The server with these parts, as ``audiohook-connector serve`` builds it."""
        store_parts: tuple[Service, ...] = ()
        store_tasks: tuple[Callable[[], Awaitable[None]], ...] = ()
        store = self.store.store if self.store is not None else None
        if self.store is not None and store is not None:
            store_parts, store_tasks = (store,), (store.run, self.store.deliverer.run)
            if self.api is not None:
                allow_http = self.store.webhooks.allow_http
                api = ApiService(self.api, store, check_start=start_check(engines), allow_http_webhooks=allow_http)
                store_tasks = (*store_tasks, api.run)
        return ConnectorServer(
            settings,
            engines,
            limiter=self.limiter,
            observer=self.observer,
            routes=dict(self.routes),
            background=(*self.background, *store_tasks),
            pipeline_for=self.translation.pipeline_for,
            translation_check=self.translation.translation_check,
            services=(*store_parts, *self.translation.services),
            store=store,
        )


def translation_parts(settings: Settings, env: Mapping[str, str]) -> TranslationParts:
    """``pipeline_for``, ``translation_check`` and the translator service, if one is configured.

    The translator is loaded when ``CONNECTOR_TRANSLATOR`` names one, or when a Gemini key is
    present; otherwise a call that asks for translation is refused with an ``info`` saying how
    to enable it (never silently left untranslated).
    """
    from .translate.ordering import CallTranslation, PipelineSettings, translate_in_order

    name = settings.translator or (
        "gemini" if env.get("GEMINI_API_KEY") or env.get("GEMINI_API_KEY_FILE") else ""
    )
    pipeline_settings = PipelineSettings.from_env(env)
    factory = None
    if name:
        from .translate.registry import load_translator

        factory = load_translator(name, env)

    def check(options: Mapping[str, Any]) -> str | None:
        try:
            call = CallTranslation.from_custom_config(options)
            if not call.enabled:
                return None
            if factory is None:
                return (
                    "customConfig.enableTranslation is set but translation is not configured on this server; "
                    "set CONNECTOR_TRANSLATOR=gemini and GEMINI_API_KEY"
                )
            factory.check(options)
        except ConfigError as exc:  # a TranslatorConfigError, or an older plug-in's EngineConfigError
            return str(exc)
        return None

    def pipeline_for(call: CallSettings) -> Pipeline | None:
        if factory is None or not call.translating or not CallTranslation.from_custom_config(call.options).enabled:
            return None
        translator = factory.create(call.options)
        return functools.partial(
            translate_in_order,
            translator,
            source=call.language,
            target=call.target_language,
            utterance_timeout=pipeline_settings.timeout,
            fallback=pipeline_settings.fallback,
            max_concurrency=pipeline_settings.max_concurrency,
            partials=pipeline_settings.partials,
        )

    return TranslationParts(
        pipeline_for=pipeline_for,
        translation_check=check,
        services=(factory,) if factory is not None else (),
    )


def build_extensions(settings: Settings, env: Mapping[str, str]) -> Extensions:
    """The parts of :class:`connector.server.ConnectorServer` beyond the engines, from the environment."""
    from .gc_tuning import full_collections
    from .metrics import build_metrics
    from .server.metrics_route import metrics_routes

    limiter = trio.CapacityLimiter(settings.worker_threads)
    metrics = build_metrics(env, limiter)
    parts = store_parts(env, metrics.observer, settings.redaction)
    store = parts.store if parts is not None else None
    api = ApiSettings.from_env(env) if store is not None else None
    if settings.transcribe == "on-start" and (api is None or not api.enabled):
        raise ConfigError(
            "CONNECTOR_TRANSCRIBE=on-start needs the store and the control API (calls start only through it): "
            "set CONNECTOR_STORE_URL and leave CONNECTOR_API_ENABLED on, or use CONNECTOR_TRANSCRIBE=always"
        )
    return Extensions(
        limiter=limiter,
        observer=metrics.observer,
        routes=metrics_routes(metrics),
        background=(*metrics.background, full_collections(settings.gc_interval)),
        translation=translation_parts(settings, env),
        store=parts,
        api=api if api is not None and api.enabled else None,
    )


@dataclass(frozen=True)
class StoreParts:
    """The store and what runs on it: the webhook deliverer and its settings."""

    store: StoreService
    deliverer: Deliverer
    webhooks: WebhookSettings


def store_parts(env: Mapping[str, str], observer: Observer, redaction: Mode = "stored") -> StoreParts | None:
    """The store (``None`` with ``CONNECTOR_STORE_URL=off``), its webhook subscriptions and phrase
    rules from the configuration, and the deliverer, woken whenever deliveries are queued (here,
    or on another replica: NOTIFY)."""
    read = EnvReader(env, collect=True)
    store_settings = StoreSettings.from_env(env, read)
    webhooks = WebhookSettings.from_env(env, read)
    rules = phrase_rules_from_env(env, read=read)
    read.raise_problems()
    if store_settings.url is None:
        if webhooks.subscriptions or rules:
            raise ConfigError("CONNECTOR_WEBHOOKS and CONNECTOR_PHRASE_RULES need the store: set CONNECTOR_STORE_URL")
        return None
    store = StoreService(
        store_settings,
        observer,
        config_subscriptions=webhooks.subscriptions,
        config_rules=phrase_rule_records(rules, datetime.now(UTC)),
        redaction=redaction,
    )
    deliverer = Deliverer(
        store.database, store.subscriptions, webhooks, store.limiter, observer=observer, replica=store_settings.replica
    )
    store.wake_on_deliveries(deliverer.wake)
    return StoreParts(store, deliverer, webhooks)
