"""Every class of bad request gets the one error shape, the right status, and an ``info`` that
names what is wrong; the token is checked before the body is even parsed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio

from connector.store import Database, UtteranceRecord
from tests.api.kit import BOTH, CID, CONTROL, READ, Api, Hub, bearer, running_api

START = f"/v1/conversations/{CID}/start"
STOP = f"/v1/conversations/{CID}/stop"
JSON = {"Content-Type": "application/json"}


async def post(
    api: Api, path: str, content: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    with trio.fail_after(10):
        response = await api.client.post(path, content=content, headers={**JSON, **bearer(CONTROL), **(headers or {})})
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


NOT_UUID = "conversationId (path): Input should be a valid UUID"


@pytest.mark.parametrize(
    ("path", "body", "status", "info"),
    [
        (START, b"{bad json", 400, "the body is not valid JSON: "),
        (START, b'{"language": "en-US",}', 400, "the body is not valid JSON: "),
        (START, b"[1, 2]", 422, "body: Input should be a valid dictionary"),
        (START, b'{"language": 5}', 422, "language (body): Input should be a valid string"),
        (START, b'{"language": "english"}', 422, "language (body): String should match pattern"),
        (START, b'{"language": "en_US"}', 422, "language (body): String should match pattern"),
        (START, b'{"langauge": "en-US"}', 422, "langauge (body): Extra inputs are not permitted"),
        (START, b'{"engine": "two words"}', 422, "engine (body): String should match pattern"),
        (START, b'{"participants": {"agent": 7}}', 422, "participants.agent (body): Input should be a valid string"),
        (START, b'{"participants": ["a"]}', 422, "participants (body): Input should be a valid dictionary"),
        (START, b'{"options": "fast"}', 422, "options (body): Input should be a valid dictionary"),
        (STOP, b'{"reason": ""}', 422, "reason (body): String should have at least 1 character"),
        (STOP, b'{"language": "en-US"}', 422, "language (body): Extra inputs are not permitted"),
        ("/v1/conversations/not-a-uuid/start", b"{}", 422, NOT_UUID),
        ("/v1/conversations/1234/stop", b"", 422, NOT_UUID),
    ],
)
async def test_bad_control_requests(
    api: Api, database: Database, hub: Hub, path: str, body: bytes, status: int, info: str
) -> None:
    got_status, got = await post(api, path, body)
    error = "malformed_json" if status == 400 else "invalid_request"
    assert (got_status, got["error"]) == (status, error), got
    assert got["info"].startswith(info), got
    assert set(got) == {"error", "info"}
    assert hub.requests == [] and database.control(CID) is None  # nothing was stored or sent


async def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    status, body = await post(api, START, b"language=en-US", {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["error"]) == (415, "unsupported_media_type")
    status, body = await post(api, START, b"{}", {"Content-Type": "text/plain"})
    assert status == 415
    status, body = await post(api, START, b'{"language": "en-US"}', {"Content-Type": "application/vnd.api+json"})
    assert status == 200, body


async def test_an_oversized_body_with_a_content_length(api: Api, hub: Hub) -> None:
    status, body = await post(api, START, b'{"options": {"x": "' + b"a" * 70_000 + b'"}}')
    assert (status, body) == (413, {"error": "body_too_large", "info": "the request body is over 65536 bytes"})
    assert hub.requests == []


async def test_an_oversized_body_without_a_content_length(api: Api, hub: Hub) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"options": {"x": "'
        for _ in range(20):
            yield b"a" * 4096
        yield b'"}}'

    with trio.fail_after(10):
        response = await api.client.post(START, content=chunks(), headers={**JSON, **bearer(CONTROL)})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert hub.requests == []


async def test_a_streamed_body_under_the_limit_is_fine(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"language": '
        yield b'"en-GB"}'

    with trio.fail_after(10):
        response = await api.client.post(START, content=chunks(), headers={**JSON, **bearer(CONTROL)})
    assert response.status_code == 200, response.text
    assert response.json()["control"]["language"] == "en-GB"


@pytest.mark.parametrize(
    ("headers", "status", "info"),
    [
        ({}, 401, "missing 'Authorization: Bearer <token>' header"),
        ({"Authorization": f"Basic {CONTROL}"}, 401, "the Authorization header must be 'Bearer <token>'"),
        ({"Authorization": "Bearer wrong-token-0123456789abcdef"}, 401, "unknown token"),
        (bearer(READ), 403, "this token does not have the 'control' scope"),
    ],
)
async def test_the_token_is_checked_before_the_body(
    api: Api, hub: Hub, headers: dict[str, str], status: int, info: str
) -> None:
    with trio.fail_after(10):
        response = await api.client.post(START, content=b"{not json", headers={**JSON, **headers})
    assert response.status_code == status
    assert response.json() == {"error": "unauthorized" if status == 401 else "forbidden", "info": info}
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer ")
    assert hub.requests == []


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("GET", f"/v1/conversations/{CID}", None, 401),
        ("GET", f"/v1/conversations/{CID}", CONTROL, 403),
        ("GET", "/v1/conversations", None, 401),
        ("GET", "/v1/conversations", CONTROL, 403),
        ("GET", "/v1/export?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", None, 401),
        ("GET", "/v1/export?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", CONTROL, 403),
        ("POST", STOP, None, 401),
        ("POST", STOP, READ, 403),
        ("GET", f"/v1/conversations/{CID}", BOTH, 404),
        ("POST", STOP, BOTH, 200),
    ],
)
async def test_scopes_on_every_route(api: Api, method: str, path: str, token: str | None, status: int) -> None:
    with trio.fail_after(10):
        response = await api.client.request(method, path, headers=bearer(token) if token else {})
    assert response.status_code == status, response.text


async def test_unknown_routes_and_methods(api: Api) -> None:
    with trio.fail_after(10):
        unknown = await api.client.get("/v1/nothing-here", headers=bearer(BOTH))
        method = await api.client.delete(f"/v1/conversations/{CID}", headers=bearer(BOTH))
        get_start = await api.client.get(START, headers=bearer(BOTH))
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "not_found", "info": "no route GET /v1/nothing-here"}
    assert method.status_code == 405
    assert method.json() == {"error": "method_not_allowed", "info": f"DELETE is not allowed on /v1/conversations/{CID}"}
    assert method.headers["allow"] == "GET"
    assert get_start.status_code == 405 and get_start.headers["allow"] == "POST"


async def test_anonymous_mode_opens_every_route(nursery: trio.Nursery, database: Database, hub: Hub) -> None:
    env = {"CONNECTOR_API_TOKENS": "", "CONNECTOR_ALLOW_ANONYMOUS": "true"}
    async with running_api(nursery, database, hub, env) as api:
        with trio.fail_after(10):
            start = await api.client.post(START)
            read = await api.client.get(f"/v1/conversations/{CID}")
    assert start.status_code == 200 and read.status_code == 200
    assert read.json()["control"]["state"] == "started"


class BrokenStore:
    """The real database, except that reading a conversation or exporting fails (a database gone away)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __getattr__(self, name: str) -> Any:
        return getattr(self.database, name)

    def conversation(self, conversation_id: str) -> None:
        raise ConnectionError("database unreachable")

    def export(self, **_: Any) -> Iterator[list[UtteranceRecord]]:
        raise ConnectionError("database unreachable")


async def test_a_failing_store_is_a_json_500(
    nursery: trio.Nursery, database: Database, hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_api(nursery, BrokenStore(database), hub) as api:
        with trio.fail_after(10):
            read = await api.client.get(f"/v1/conversations/{CID}", headers=bearer(READ))
            exported = await api.client.get(
                "/v1/export",
                params={"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
                headers=bearer(READ),
            )
    for response in (read, exported):
        assert response.status_code == 500
        assert response.json() == {
            "error": "internal_error",
            "info": "the server failed to answer; the error is in its log",
        }
    assert READ not in caplog.text
