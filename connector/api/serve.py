"""The control API on its own port, served by hypercorn's trio worker in the caller's nursery.

``await nursery.start(serve_api, app, settings, shutdown=event)`` returns the bound port (the
one asked for, or the free one picked for port 0) once the socket listens; setting ``shutdown``
stops accepting, lets requests in flight finish for ``GRACEFUL_TIMEOUT`` seconds, and returns.
Hypercorn logs through the ``hypercorn.error`` logger (so the server's log format applies); its
access log is on only when this module's logger is at DEBUG (it carries paths and query strings,
never headers, so never a token).
"""

from __future__ import annotations

import logging
from typing import cast

import trio
from fastapi import FastAPI
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework

from .settings import ApiSettings

__all__ = ["GRACEFUL_TIMEOUT", "hypercorn_config", "serve_api"]

log = logging.getLogger(__name__)

GRACEFUL_TIMEOUT = 5.0
"""Seconds requests in flight (an export) may take after shutdown before they are cancelled."""


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def hypercorn_config(settings: ApiSettings) -> Config:
    config = Config()
    config.bind = [_bind(settings.host, settings.port)]
    config.accesslog = logging.getLogger("hypercorn.access") if log.isEnabledFor(logging.DEBUG) else None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = GRACEFUL_TIMEOUT
    config.include_server_header = False
    return config


async def serve_api(
    app: FastAPI,
    settings: ApiSettings,
    *,
    shutdown: trio.Event,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until ``shutdown`` is set; report the bound port through ``task_status``."""

    async def run(*, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
        asgi = cast(ASGIFramework, app)  # FastAPI is an ASGI app; hypercorn's protocol types are narrower
        await serve(asgi, hypercorn_config(settings), shutdown_trigger=shutdown.wait, task_status=task_status)

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(run)
        port = int(binds[0].rpartition(":")[2])  # "http://127.0.0.1:8081", "http://[::]:8081"
        log.info("control API listening", extra={"port": port})
        task_status.started(port)
