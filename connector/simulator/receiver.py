"""``audiohook-connector receive``: a webhook receiver to try the connector's webhooks with.

It does what a production receiver must: verify each request's Standard Webhooks signature
(``webhook-id``/``-timestamp``/``-signature``) with the subscription's secret, de-duplicate on
``webhook-id`` (deliveries are at least once, so a repeat is normal after a timeout or a restart),
and answer 2xx quickly. It prints one line per event (or the JSON with ``--json``) on stdout.

    audiohook-connector receive --port 9000 --secret whsec_...
    CONNECTOR_WEBHOOKS='[{"url": "http://127.0.0.1:9000/hook", "events": ["utterance.final"],
                          "signingSecret": "whsec_..."}]' ./dev serve
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any, TextIO, cast

import standardwebhooks
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["main", "receiver_app"]

MAX_BODY = 1 << 20
REMEMBERED = 100_000
"""``webhook-id`` values remembered for de-duplication (oldest forgotten first)."""


def describe(event: dict[str, Any]) -> str:
    """One line for a person watching the calls."""
    data = event.get("data") or {}
    head = f"{event.get('timestamp', '')} {event.get('type', '?'):22} {data.get('conversationId', '')}"
    if "text" in data:
        where = f"ch{data.get('channel')} {data.get('role', '')} {float(data.get('offset') or 0):7.2f}s"
        return f"{head} {where} {data['text']!r}"
    return f"{head} {data.get('outcome') or ''}".rstrip()


def receiver_app(secret: str | None, emit: Callable[[str], None], *, as_json: bool = False) -> Starlette:
    """The receiving application: ``POST`` anywhere; 401 for a bad signature, 413 for a huge body."""
    seen: OrderedDict[str, None] = OrderedDict()
    webhook = standardwebhooks.Webhook(secret) if secret else None

    async def hook(request: Request) -> JSONResponse:
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return JSONResponse({"error": "body_too_large"}, status_code=413)
        body = await request.body()
        headers = dict(request.headers)
        if webhook is not None:
            try:
                webhook.verify(body, headers)
            except standardwebhooks.WebhookVerificationError as exc:
                emit(f"refused (401): {exc}")
                return JSONResponse({"error": "bad_signature"}, status_code=401)
        try:
            event = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "malformed_json"}, status_code=400)
        delivery = headers.get("webhook-id", "")
        if delivery in seen:
            emit(f"duplicate {delivery} (already handled; answered 200 again)")
            return JSONResponse({"ok": True, "duplicate": True})
        seen[delivery] = None
        while len(seen) > REMEMBERED:
            seen.popitem(last=False)
        emit(json.dumps(event, ensure_ascii=False) if as_json else describe(event))
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])


def _print(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audiohook-connector receive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", help="the subscription's signing secret (whsec_...); unsigned requests are refused")
    parser.add_argument("--json", action="store_true", help="print each event's JSON instead of a line")
    args = parser.parse_args(argv)
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.accesslog = None
    app = receiver_app(args.secret, partial(_print, sys.stdout), as_json=args.json)
    print(f"receiving webhooks on http://{args.host}:{args.port}/hook", file=sys.stderr)
    try:
        trio.run(partial(serve, cast(ASGIFramework, app), config))
    except KeyboardInterrupt:
        return 130
    return 0
