"""One error shape for every failure: ``{"error": "<code>", "info": "<what is wrong>"}``.

FastAPI answers ``{"detail": ...}`` by default, in three different shapes (a string, a list of
pydantic errors, Starlette's plain-text 500). A client of this API reads one shape whatever went
wrong, so every handler here renders :func:`error_response`: routes raise :class:`ApiError`;
Starlette's own 404/405 and FastAPI's validation errors are translated (malformed JSON is a 400,
any other invalid input a 422 whose ``info`` names the field); anything unexpected is a 500
whose ``info`` says nothing of the request (the traceback goes to the log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = ["CODES", "ApiError", "error_response", "install_error_handlers"]

CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
}
"""The ``error`` code for each status when a route gives no more precise one."""


class ApiError(HTTPException):
    """An error a route answers on purpose: status, ``error`` code and ``info``."""

    def __init__(self, status: int, code: str, info: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=info, headers=dict(headers) if headers else None)
        self.code = code
        self.info = info


def error_response(status: int, code: str, info: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "info": info}, status_code=status, headers=headers)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.code, exc.info, exc.headers)
    status = exc.status_code
    if status == 404:
        info = f"no route {request.method} {request.url.path}"
    elif status == 405:
        info = f"{request.method} is not allowed on {request.url.path}"
    else:
        info = str(exc.detail)
    return error_response(status, CODES.get(status, "error"), info, exc.headers)


def _where(loc: Sequence[Any]) -> str:
    """``("body", "participants", "agent")`` → ``participants.agent (body)``."""
    if not loc:
        return "request"
    name = ".".join(str(part) for part in loc[1:])
    return f"{name} ({loc[0]})" if name else str(loc[0])


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            why = (error.get("ctx") or {}).get("error", "invalid JSON")
            position = error.get("loc", ("body", "?"))[-1]
            return error_response(400, "malformed_json", f"the body is not valid JSON: {why} (at character {position})")
    info = "; ".join(f"{_where(error.get('loc', ()))}: {error.get('msg', 'invalid')}" for error in errors)
    return error_response(422, CODES[422], info or "invalid request")


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette raises ``exc`` again once this is sent, and hypercorn logs it with its traceback.
    return error_response(500, CODES[500], "the server failed to answer; the error is in its log")


def install_error_handlers(app: FastAPI) -> None:
    """Give ``app`` the one error shape for HTTP errors, invalid input and unexpected failures."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
