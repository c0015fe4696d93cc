"""Standard Webhooks headers (https://www.standardwebhooks.com), signed by the ``standardwebhooks`` library.

The library is the specification's reference implementation, the one receivers verify with; we
sign with it instead of re-implementing the HMAC so the two cannot drift apart.

* ``webhook-id`` is the delivery's id: the same on every attempt, so a receiver that got a
  delivery twice (at-least-once) can tell.
* ``webhook-timestamp`` is when this attempt is sent (Unix seconds), not when the event
  happened: receivers refuse timestamps older than a few minutes, and a retry hours later must
  still verify. The event's own time is ``timestamp`` in the body.
* ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of ``id.timestamp.body``) only with a secret;
  the id and timestamp are sent either way, for de-duplication.
"""

from __future__ import annotations

import functools
from datetime import datetime
from math import floor

import standardwebhooks

__all__ = ["webhook_headers"]


def webhook_headers(delivery_id: str, body: bytes, *, now: datetime, secret: str | None) -> dict[str, str]:
    """The ``webhook-*`` headers of one attempt to send ``body``."""
    headers = {"webhook-id": delivery_id, "webhook-timestamp": str(floor(now.timestamp()))}
    if secret is not None:
        headers["webhook-signature"] = _signer(secret).sign(delivery_id, now, body)
    return headers


@functools.lru_cache(maxsize=256)
def _signer(secret: str) -> standardwebhooks.Webhook:
    """One decoded key per secret (the settings checked that it decodes)."""
    return standardwebhooks.Webhook(secret)
