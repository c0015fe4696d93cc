"""Webhooks (#12): events delivered at least once, in order per conversation, from the store's outbox.

* :mod:`connector.webhooks.settings` — ``CONNECTOR_WEBHOOK*`` and the configured subscriptions, checked.
* :mod:`connector.webhooks.signing` — Standard Webhooks headers (``webhook-id``/``-timestamp``/``-signature``).
* :mod:`connector.webhooks.auth` — TLS contexts (private CA, mutual TLS) and cached OAuth2 tokens.
* :mod:`connector.webhooks.client` — one attempt over ``httpx2`` and what its answer means.
* :mod:`connector.webhooks.ports` — what the deliverer needs: the outbox and the observer hooks.
* :mod:`connector.webhooks.deliverer` — the trio task that drains the outbox.

The outbox itself (rows, leases, order) lives in the store (``connector.store.Database``); this
package only reads it through :class:`DeliveryQueue`.
"""

from connector.webhooks.auth import OAuthError, TlsError, TokenCache, tls_context
from connector.webhooks.client import USER_AGENT, Outcome, Reason, WebhookClient, encode_body, retry_after_seconds
from connector.webhooks.deliverer import Deliverer, backoff, target_of
from connector.webhooks.ports import DeliveryQueue, NullWebhookObserver, WebhookObserver
from connector.webhooks.settings import ROLES, WebhookSettings, config_id
from connector.webhooks.signing import webhook_headers

__all__ = [
    "ROLES",
    "USER_AGENT",
    "Deliverer",
    "DeliveryQueue",
    "NullWebhookObserver",
    "OAuthError",
    "Outcome",
    "Reason",
    "TlsError",
    "TokenCache",
    "WebhookClient",
    "WebhookObserver",
    "WebhookSettings",
    "backoff",
    "config_id",
    "encode_body",
    "retry_after_seconds",
    "target_of",
    "tls_context",
    "webhook_headers",
]
