"""``/openapi.json``: every route, the bearer scheme and each route's scope, the bodies, and the
one error shape (never FastAPI's default validation error)."""

from __future__ import annotations

from typing import Any

import trio

from connector import __version__
from tests.api.kit import Api

ROUTES = {
    "/v1/conversations/{conversationId}/start": ("post", "control"),
    "/v1/conversations/{conversationId}/stop": ("post", "control"),
    "/v1/conversations/{conversationId}": ("get", "read"),
    "/v1/conversations": ("get", "read"),
    "/v1/export": ("get", "read"),
}
ERROR = {"$ref": "#/components/schemas/ErrorBody"}


async def document(api: Api) -> dict[str, Any]:
    with trio.fail_after(10):
        response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_every_route_with_its_scope_and_the_bearer_scheme(api: Api) -> None:
    doc = await document(api)
    assert doc["info"]["title"] == "AudioHook Connector control API"
    assert doc["info"]["version"] == __version__
    assert set(doc["paths"]) == {*ROUTES, "/v1/health"}
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token of CONNECTOR_API_TOKENS with the route's scope (read, control).",
    }
    for path, (method, scope) in ROUTES.items():
        operation = doc["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert operation["x-required-scope"] == scope, path
        for status in ("401", "403", "422"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == ERROR, (path, status)
    health = doc["paths"]["/v1/health"]["get"]
    assert "security" not in health


async def test_bodies_and_the_error_shape(api: Api) -> None:
    doc = await document(api)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error", "info"]
    start = doc["paths"]["/v1/conversations/{conversationId}/start"]["post"]
    body = start["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/StartRequest"} in body["anyOf"]
    assert not start["requestBody"].get("required", False)
    assert set(schemas["StartRequest"]["properties"]) == {"language", "engine", "participants", "options"}
    assert schemas["StartRequest"]["additionalProperties"] is False
    for status in ("400", "413", "415"):
        assert start["responses"][status]["content"]["application/json"]["schema"] == ERROR
    ok = start["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ControlResult"}
    assert {"conversationId", "control", "applied", "status", "live", "channels", "summary"} <= set(
        schemas["ControlResult"]["properties"]
    )
    assert {"sessions", "utterances"} <= set(schemas["ConversationDetail"]["properties"])
    param = doc["paths"]["/v1/conversations/{conversationId}"]["get"]["parameters"][0]
    assert (param["name"], param["in"], param["schema"]["format"]) == ("conversationId", "path", "uuid")
    exported = doc["paths"]["/v1/export"]["get"]["responses"]["200"]["content"]
    assert exported["application/x-ndjson"]["schema"] == {"$ref": "#/components/schemas/ExportedUtterance"}
    assert "text/csv" in exported
    assert "conversationId" in schemas["ExportedUtterance"]["properties"]
    assert schemas["UtteranceView"]["properties"]["sentAt"]["format"] == "date-time"
