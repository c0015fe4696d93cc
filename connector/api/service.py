"""The control API as one of the server's background tasks: on its own port, over the server's store."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import trio

from ..asr import EngineConfigError, EngineRegistry
from ..store.service import StoreService
from .app import create_app
from .ports import StartCheck
from .serve import serve_api
from .settings import ApiSettings
from .webhooks import WebhookOptions

__all__ = ["ApiService", "start_check"]


class ApiService:
    """The control API as one of the server's background tasks, on its own port, over the store."""

    def __init__(
        self,
        settings: ApiSettings,
        store: StoreService,
        check_start: StartCheck | None = None,
        *,
        allow_http_webhooks: bool = False,
    ) -> None:
        self.settings = settings
        options = WebhookOptions(
            config_subscriptions=lambda: store.config_subscriptions,
            config_phrase_rules=lambda: store.config_rules,
            on_change=store.reload,
            allow_http=allow_http_webhooks,
        )
        self.app = create_app(
            store.database, store.hub, settings, store.limiter,
            check_start=check_start, webhooks=store.database, webhook_options=options,
        )  # fmt: skip
        self.port = 0
        self.ready = trio.Event()
        """Set once the API is listening (:attr:`port` is then the bound port)."""

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self.port = await nursery.start(
                functools.partial(serve_api, self.app, self.settings, shutdown=trio.Event())
            )
            self.ready.set()


def start_check(engines: EngineRegistry) -> StartCheck:
    """Refuse a control-API start this server's engines cannot serve (before it is stored)."""

    def check(engine: str | None, language: str | None, options: Mapping[str, Any]) -> str | None:
        try:
            factory = engines.get(engine)
            if language is not None:
                if not factory.supports_language(language):
                    return f"language {language!r} is not supported by engine {factory.name!r}"
                factory.check(language, options)
        except EngineConfigError as exc:
            return str(exc)
        return None

    return check
