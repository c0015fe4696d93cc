"""Another AudioHook server under the same load, for a side-by-side run (``--compare-cmd``).

Any server that speaks AudioHook v2 over WebSocket: started from a shell command with
``{port}`` in it (also passed as ``$PORT``), pinned to the same CPU as ours, and measured
from ``/proc`` over its whole process tree (a Node or JVM server may fork workers). It has no
``/metrics`` of ours, so what comes from inside our server (event-loop lag, outcomes,
audio taken in) is absent from its row; whether it holds real time is read from the client
side instead: pings queue behind the audio on the same TCP stream, so a server that falls
behind shows it in pong latency.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import trio

from bench.probe import Metrics, ProcSample, sample_tree

__all__ = ["OtherServer", "OtherTarget"]


@dataclass(frozen=True)
class OtherTarget:
    """How to start and reach the other server."""

    name: str
    command: str
    path: str = "/"
    api_key: str = "other-key"
    client_secret: str | None = None
    cwd: str | None = None
    start_timeout: float = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OtherServer:
    target: OtherTarget
    process: trio.Process
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.target.path}"

    @classmethod
    async def start(cls, target: OtherTarget, cpu: int | None, log: IO[bytes] | None) -> OtherServer:
        port = _free_port()
        command = ["sh", "-c", "exec " + target.command.replace("{port}", str(port))]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        process = await trio.lowlevel.open_process(
            command,
            cwd=target.cwd or os.getcwd(),
            env={**os.environ, "PORT": str(port)},
            stdout=log or subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() reaches its workers too
        )
        server = cls(target, process, port)
        with trio.fail_after(target.start_timeout):
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"{target.name} exited with {process.returncode} before listening")
                try:
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                except OSError:
                    await trio.sleep(0.2)  # waiting for an external process to bind: nothing to await on
                    continue
                await stream.aclose()
                return server

    def sample(self) -> ProcSample:
        return sample_tree(self.pid)

    async def scrape(self, token: str | None) -> Metrics:
        """Nothing to read: another server has no /metrics of ours (its rows say ``n/a``)."""
        await trio.lowlevel.checkpoint()
        return Metrics("", trio.current_time())

    settled = scrape

    async def stop(self, grace: float = 15.0) -> int:
        """SIGTERM to its process group, then SIGKILL if it has not exited in time."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
        with trio.move_on_after(grace):
            return await self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return await self.process.wait()


def parse_compare(name: str, command: str, path: str, api_key: str, secret: str | None, cwd: str | None) -> OtherTarget:
    if not path.startswith("/"):
        raise ValueError("--compare-path must start with '/'")
    if cwd is not None and not Path(cwd).is_dir():
        raise ValueError(f"--compare-cwd {cwd!r} is not a directory")
    if not shlex.split(command):
        raise ValueError("--compare-cmd is empty")
    return OtherTarget(name=name, command=command, path=path, api_key=api_key, client_secret=secret, cwd=cwd)
