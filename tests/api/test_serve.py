"""``serve_api`` in a nursery: the bound port reported for port 0, a clean stop on ``shutdown``,
and hypercorn's access log off unless DEBUG."""

from __future__ import annotations

import logging
from functools import partial

import httpx2
import pytest
import trio

from connector.api import ApiSettings, create_app, serve_api
from connector.api.serve import hypercorn_config
from connector.store import Database
from tests.api.kit import ENV, Hub


async def test_port_zero_is_reported_and_shutdown_returns(database: Database) -> None:
    settings = ApiSettings.from_env(ENV)
    app = create_app(database, Hub(), settings, trio.CapacityLimiter(2))
    shutdown = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(serve_api, app, settings, shutdown=shutdown))
            assert isinstance(port, int) and port > 0
            async with httpx2.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/v1/health")
            assert response.json() == {"status": "ok"}
            shutdown.set()  # the nursery ends because serve_api returns
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)


def test_the_access_log_is_off_unless_debug(caplog: pytest.LogCaptureFixture) -> None:
    settings = ApiSettings.from_env({**ENV, "CONNECTOR_API_HOST": "::1", "CONNECTOR_API_PORT": "9000"})
    config = hypercorn_config(settings)
    assert config.bind == ["[::1]:9000"]
    assert config.accesslog is None
    assert isinstance(config.errorlog, logging.Logger)
    with caplog.at_level(logging.DEBUG, logger="connector.api.serve"):
        assert isinstance(hypercorn_config(settings).accesslog, logging.Logger)
