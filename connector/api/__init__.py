"""The control API of the transcript store: JSON over HTTP on its own port.

Start and stop transcription of a conversation, read its status and transcript, list
conversations and export utterances, behind bearer tokens with scopes; ``/openapi.json``
describes it all (``docs/api.md`` is the guide). The server wires it::

    settings = ApiSettings.from_env(env)
    app = create_app(database, hub, settings, limiter)
    port = await nursery.start(partial(serve_api, app, settings, shutdown=stop))
"""

from __future__ import annotations

from .app import TITLE, create_app
from .ports import ControlRequests, ConversationStore
from .serve import serve_api
from .service import ApiService, start_check
from .settings import ApiSettings, ApiToken, ConfigError, Scope

__all__ = [
    "TITLE",
    "ApiService",
    "ApiSettings",
    "ApiToken",
    "ConfigError",
    "ControlRequests",
    "ConversationStore",
    "Scope",
    "create_app",
    "serve_api",
    "start_check",
]
