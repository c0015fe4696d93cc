"""The server under test, in its own process: started, sampled, scraped, stopped; and profiled.

``bench.load`` starts a fresh ``python -m bench.server`` for every step (optionally pinned to
one CPU with ``taskset``), reads its ``/proc`` numbers and ``/metrics``, and stops it with
SIGTERM so that its drain is measured too. ``py_spy`` samples it during the steady window.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import trio

from bench.probe import Metrics, ProcSample, sample_process, scrape

__all__ = [
    "BENCH_KEY",
    "BENCH_SECRET",
    "REPO",
    "ServerProcess",
    "add_server_options",
    "bench_server_env",
    "py_spy",
]

REPO = Path(__file__).resolve().parent.parent
BENCH_KEY = "bench-key"
BENCH_SECRET = base64.b64encode(b"benchmark-client-secret-0123456789").decode()


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark has for the server it starts and for where the two processes run."""
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to (taskset)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU this load generator is pinned to")
    parser.add_argument("--no-pin", action="store_true", help="do not pin either process")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE", help="extra server setting")


def bench_server_env(engine: str, *settings: Mapping[str, str], extra: Sequence[str] = ()) -> dict[str, str]:
    """The environment of a benchmark's server: loopback on a free port, the bench key, metrics on,
    ``engine``, then ``settings`` and the ``--server-env KEY=VALUE`` items in ``extra`` (last wins)."""
    env = {
        "CONNECTOR_HOST": "127.0.0.1",
        "CONNECTOR_PORT": "0",
        "CONNECTOR_API_KEYS": f"{BENCH_KEY}:{BENCH_SECRET}",
        "CONNECTOR_ENGINES": engine,
        "CONNECTOR_DEFAULT_ENGINE": engine,
        "CONNECTOR_METRICS": "true",
        "CONNECTOR_STORE_URL": "off",  # the store's own benchmark turns it on (bench/store.py)
    }
    for more in settings:
        env.update(more)
    for item in extra:
        key, equals, value = item.partition("=")
        if not equals:
            raise SystemExit(f"--server-env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


@dataclass
class ServerProcess:
    """The server under test, in its own process (optionally pinned to one CPU)."""

    process: trio.Process
    port: int
    pid: int

    @classmethod
    async def start(cls, env: Mapping[str, str], cpu: int | None, log: IO[bytes] | None) -> ServerProcess:
        command = [sys.executable, "-m", "bench.server"]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
        process = await trio.lowlevel.open_process(
            command, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL
        )
        assert process.stdout is not None
        line = b""
        with trio.fail_after(60):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(1)
                if not chunk:
                    raise RuntimeError(f"server exited before listening (code {await process.wait()})")
                line += chunk
        ready = json.loads(line)
        return cls(process, int(ready["port"]), int(ready["pid"]))

    def sample(self) -> ProcSample:
        return sample_process(self.pid)

    async def scrape(self, token: str | None) -> Metrics:
        return await scrape(self.port, token, within=30)

    async def settled(self, token: str | None) -> Metrics:
        """The final scrape, once the server has recorded the end of every session (bounded wait)."""
        metrics = await self.scrape(token)
        with trio.move_on_after(10):
            while metrics.value("connector_sessions_active") > 0:
                await trio.sleep(0.05)
                metrics = await self.scrape(token)
        return metrics

    async def stop(self, grace: float = 60.0) -> int:
        """SIGTERM (graceful drain), then SIGKILL if it does not exit in time."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        with trio.move_on_after(grace):
            return await self.process.wait()
        self.process.kill()
        return await self.process.wait()


async def py_spy(pid: int, output: Path, seconds: float) -> None:
    """Sample the server with py-spy (collapsed stacks, ``--format raw``) for ``seconds``."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--format", "raw",
               "--output", str(output), "--nonblocking"]
    await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
