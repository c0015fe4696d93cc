"""The connector's CLI as a real process for tests: started with an environment, its JSON log read
as it goes, the port taken from its ``listening`` line, killed if a test leaves it running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from connector.testing.server import TEST_SECRET
from connector.testing.stored import API_TOKEN

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Served:
    """The server process and what it logged (JSON lines), read as it goes."""

    process: trio.Process
    records: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    api_port: int = 0
    """The control API's port (when started with ``api=True``)."""
    _waiting: dict[str, trio.Event] = field(default_factory=dict)

    def logged(self, message: str) -> trio.Event:
        """Set once a record with this message has been logged."""
        if message not in self._waiting:
            self._waiting[message] = trio.Event()
            if any(r.get("msg") == message for r in self.records):
                self._waiting[message].set()
        return self._waiting[message]

    def messages(self) -> list[str]:
        return [str(r.get("msg")) for r in self.records]

    async def read_log(self) -> None:
        assert self.process.stderr is not None
        buffer = b""
        async for chunk in self.process.stderr:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    record = {"msg": line.decode(errors="replace"), "raw": True}
                self.records.append(record)
                event = self._waiting.get(str(record.get("msg")))
                if event is not None:
                    event.set()


@asynccontextmanager
async def serving(
    tmp_path: Path, env: Mapping[str, str], *, startup: float = 30, api: bool = False
) -> AsyncIterator[Served]:
    """``python -m connector serve`` on a free port with ``env`` over a base test configuration
    (loopback, port 0, the test key, JSON logs); killed if a test leaves it running."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CONNECTOR_HOST": "127.0.0.1",
        "CONNECTOR_PORT": "0",
        "CONNECTOR_API_KEYS": f"test-key:{TEST_SECRET}",
        "CONNECTOR_LOG_FORMAT": "json",
        "CONNECTOR_API_PORT": "0",
        "CONNECTOR_API_HOST": "127.0.0.1",
        "CONNECTOR_API_TOKENS": f"read+control:{API_TOKEN}",
        **env,
    }
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "connector", "serve", "--env-file", str(tmp_path / "none.env")],
        env=environment,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    served = Served(process)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(served.read_log)
            with trio.fail_after(startup):  # a model load and warm-up included
                await served.logged("listening").wait()
            served.port = int(next(r["port"] for r in served.records if r.get("msg") == "listening"))
            if api:
                with trio.fail_after(startup):
                    await served.logged("control API listening").wait()
                api_line = next(r for r in served.records if r.get("msg") == "control API listening")
                served.api_port = int(api_line["port"])
            yield served
            with trio.fail_after(20):
                await process.wait()  # the log reader ends with the process
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
