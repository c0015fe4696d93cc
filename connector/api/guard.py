"""The route class that checks, before anything else, who calls and what the body is.

FastAPI reads and parses a JSON body *before* it runs a route's dependencies, so a bearer check
written as a dependency would answer a caller without a token with "malformed JSON" (and tell
it the route exists and what it expects). This :class:`~fastapi.routing.APIRoute` runs the
token check first, then refuses a body that is not JSON (415), and only then lets FastAPI parse
and validate. The scope a route needs is declared once, in its ``openapi_extra``
(:func:`requires`), so the document and the check cannot disagree.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from .auth import TokenTable
from .errors import ApiError
from .settings import Scope

__all__ = ["SCOPE_KEY", "guarded_route", "requires"]

SCOPE_KEY = "x-required-scope"


def requires(scope: Scope) -> dict[str, Any]:
    """``openapi_extra`` of a route that needs ``scope`` (documented there and enforced by the route class)."""
    return {SCOPE_KEY: scope.value}


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def guarded_route(tokens: TokenTable) -> type[APIRoute]:
    """An :class:`APIRoute` class that checks ``tokens`` for routes declared with :func:`requires`."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            needed = (self.openapi_extra or {}).get(SCOPE_KEY)
            scope = Scope(needed) if needed else None
            takes_body = self.body_field is not None

            async def guarded(request: Request) -> Response:
                if scope is not None:
                    tokens.check(request.headers.get("authorization"), scope)
                if takes_body and await request.body() and not _is_json(request.headers.get("content-type")):
                    info = "the body must be JSON (Content-Type: application/json)"
                    raise ApiError(415, "unsupported_media_type", info)
                return await handler(request)

            return guarded

    return GuardedRoute
