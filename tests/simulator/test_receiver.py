"""``audiohook-connector receive``: verifies signatures, de-duplicates on webhook-id, prints each event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from typing import cast

import httpx2
import standardwebhooks
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework

from connector.simulator.receiver import receiver_app

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVENT = {
    "type": "utterance.final",
    "timestamp": "2026-12-03T14:02:11.532Z",
    "data": {"conversationId": "c-1", "channel": 0, "role": "external", "offset": 1.5, "text": "hello there"},
}


def signed(body: bytes, delivery: str) -> dict[str, str]:
    when = datetime.now(UTC)
    signature = standardwebhooks.Webhook(SECRET).sign(delivery, when, body.decode())
    return {"webhook-id": delivery, "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature,
            "content-type": "application/json"}  # fmt: skip


async def test_signed_events_are_printed_once_and_forgeries_refused(nursery: trio.Nursery) -> None:
    lines: list[str] = []
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    app = cast(ASGIFramework, receiver_app(SECRET, lines.append))
    binds: list[str] = await nursery.start(partial(serve, app, config))
    url = binds[0] + "/hook"
    body = json.dumps(EVENT).encode()
    async with httpx2.AsyncClient(timeout=10) as client:
        first = await client.post(url, content=body, headers=signed(body, "msg_1"))
        again = await client.post(url, content=body, headers=signed(body, "msg_1"))  # a retry of the same delivery
        forged = await client.post(url, content=body, headers={**signed(body, "msg_2"), "webhook-signature": "v1,AAAA"})
    assert (first.status_code, again.status_code, forged.status_code) == (200, 200, 401)
    assert again.json() == {"ok": True, "duplicate": True}
    assert "utterance.final" in lines[0] and "'hello there'" in lines[0] and "ch0 external" in lines[0]
    assert lines[1].startswith("duplicate msg_1") and lines[2].startswith("refused (401)")
    assert len(lines) == 3
