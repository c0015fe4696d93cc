"""The trio runtime around the sans-IO protocol: listener, HTTP routes, handshake, shutdown."""

from .app import ConnectorServer, EnginePolicy, Route
from .http import Request

__all__ = ["ConnectorServer", "EnginePolicy", "Request", "Route"]
