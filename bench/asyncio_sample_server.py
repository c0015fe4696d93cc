"""The shape of most public AudioHook samples, for ``bench.load --compare-cmd``: asyncio +
the ``websockets`` library, answering ``open``, ``ping``, ``update`` and ``close`` and
counting audio bytes (no decoding, no timeline, no engine, no signature check).

Not part of the product and not a project dependency::

    python -m venv /tmp/sample && /tmp/sample/bin/pip install websockets
    python -m bench.load --driver light --sessions 600,1000 --compare-name asyncio-sample \\
        --compare-cmd "/tmp/sample/bin/python bench/asyncio_sample_server.py {port}" --compare-path /
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import websockets


async def handler(ws: Any) -> None:
    seq = 0
    session = None
    audio_bytes = 0

    async def send(kind: str, parameters: dict[str, Any], clientseq: int) -> None:
        nonlocal seq
        seq += 1
        message = {"version": "2", "type": kind, "seq": seq, "clientseq": clientseq, "id": session}
        await ws.send(json.dumps({**message, "parameters": parameters}))

    async for message in ws:
        if isinstance(message, bytes):
            audio_bytes += len(message)
            continue
        msg = json.loads(message)
        session = msg.get("id")
        kind, clientseq = msg.get("type"), msg.get("seq")
        if kind == "open":
            await send("opened", {"startPaused": False, "media": [msg["parameters"]["media"][0]]}, clientseq)
        elif kind == "ping":
            await send("pong", {}, clientseq)
        elif kind == "update":
            await send("updated", {}, clientseq)
        elif kind == "close":
            await send("closed", {}, clientseq)


async def main(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, max_size=1 << 20, compression=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
