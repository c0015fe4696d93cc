"""The control API as one FastAPI application, built from the store, the hub and the settings.

Every route but ``/v1/health`` and ``/openapi.json`` goes through the guarded route class (bearer
token and scope first, then the body's type) and documents the bearer scheme; every error has one
JSON shape (:mod:`.errors`); no body over ``max_body`` reaches a route (:mod:`.body`). The
interactive docs pages are off: they load scripts from a CDN, and the document itself is all a
client generator needs.
"""

from __future__ import annotations

from typing import Any

import trio
from fastapi import APIRouter, FastAPI, Security
from fastapi.security import HTTPBearer

from .. import __version__
from .auth import TokenTable
from .body import BodyLimit
from .errors import install_error_handlers
from .export import add_export_route, document_export_line
from .guard import guarded_route
from .models import Health
from .ports import ControlRequests, ConversationStore, StartCheck
from .routes import add_conversation_routes
from .settings import ApiSettings
from .webhooks import WebhookOptions, WebhookStore, add_webhook_routes

__all__ = ["TITLE", "ControlApi", "create_app"]

TITLE = "AudioHook Connector control API"
_DESCRIPTION = """\
Start and stop transcription of Genesys conversations, read their transcripts, export them.

Every route but `/v1/health` needs `Authorization: Bearer <token>`; a token has the scope `read`,
`control` or both (each route's `x-required-scope`). Every error is `{"error": code, "info": text}`.
"""

bearer = HTTPBearer(
    auto_error=False,  # the guarded route class decides (and answers in the API's error shape)
    scheme_name="bearerAuth",
    description="A token of CONNECTOR_API_TOKENS with the route's scope (read, control).",
)


class ControlApi(FastAPI):
    """FastAPI, with the export line's schema in ``/openapi.json`` (no route returns it as a model)."""

    def openapi(self) -> dict[str, Any]:
        document = super().openapi()
        document_export_line(document)
        return document


def create_app(
    store: ConversationStore,
    hub: ControlRequests,
    settings: ApiSettings,
    limiter: trio.CapacityLimiter,
    *,
    check_start: StartCheck | None = None,
    webhooks: WebhookStore | None = None,
    webhook_options: WebhookOptions | None = None,
) -> FastAPI:
    """The application; ``limiter`` bounds the worker threads that call ``store``; ``check_start``
    refuses a start whose engine or language this server cannot serve (422, before it is stored).
    With ``webhooks`` (the store's webhook side), the webhook and phrase-rule routes are mounted
    (:mod:`.webhooks`); ``webhook_options`` gives them the configured records and the change hook."""
    app = ControlApi(title=TITLE, version=__version__, description=_DESCRIPTION, docs_url=None, redoc_url=None)
    tokens = TokenTable(settings.tokens, anonymous=settings.anonymous)
    guarded = APIRouter(route_class=guarded_route(tokens), dependencies=[Security(bearer)])
    add_conversation_routes(guarded, store, hub, settings, limiter, check_start)
    add_export_route(guarded, store, limiter)
    if webhooks is not None:
        add_webhook_routes(guarded, webhooks, limiter, webhook_options or WebhookOptions())
    app.include_router(guarded)

    @app.get("/v1/health", tags=["health"], summary="Liveness (no token needed)")
    async def health() -> Health:
        return Health()

    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_body=settings.max_body)
    return app
