"""``GET /metrics`` on the public port: the server's Prometheus registry as text.

The metrics themselves live in :mod:`connector.metrics` (floor 4); the route is part of the
public port, so it is built here. With ``CONNECTOR_METRICS_TOKEN`` set it requires
``Authorization: Bearer <token>``, compared in constant time, and answers 401 with a JSON
body otherwise.
"""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from ..metrics import MetricsBundle
from .app import Route
from .http import Request

__all__ = ["metrics_route", "metrics_routes"]


def metrics_route(registry: CollectorRegistry, token: str | None) -> Route:
    """``GET /metrics``: the registry in the Prometheus text format, behind an optional bearer token."""
    expected = token.encode() if token is not None else None

    async def route(request: Request) -> tuple[int, Any, str]:
        if expected is not None:
            scheme, _, given = (request.header("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
                body = {"error": "unauthorized", "info": "missing or wrong 'Authorization: Bearer' token"}
                return 401, body, "application/json"
        return 200, generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4

    return route


def metrics_routes(bundle: MetricsBundle) -> dict[str, Route]:
    """``{"/metrics": ...}`` for :class:`~connector.server.ConnectorServer`'s ``routes=``; empty with metrics off."""
    if bundle.registry is None:
        return {}
    return {"/metrics": metrics_route(bundle.registry, bundle.token)}
