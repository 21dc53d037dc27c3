"""For your webhook listener: verify that a request really comes from billhook.

    from billhook.receiver import verify, InvalidWebhook

    event = verify(secret, request.headers, request_body)   # -> {"id", "type", "timestamp", "data"}

``verify`` checks the Standard Webhooks signature (any of the signatures during a secret rotation)
and that the timestamp is within five minutes of now; anything else raises ``InvalidWebhook``
with the reason. Deduplicate on ``event["id"]`` (the ``webhook-id`` header): a delivery is
at least once and keeps its id on every retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class InvalidWebhook(Exception):
    """The request is not a genuine, fresh billhook webhook."""


def verify(secret: str, headers: Mapping[str, str], body: bytes | str) -> dict[str, Any]:
    """The verified event, or InvalidWebhook saying why not (bad or missing signature, stale timestamp)."""
    if not secret:
        raise InvalidWebhook("no webhook secret configured")
    try:
        event = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    except WebhookVerificationError as exc:
        raise InvalidWebhook(f"webhook rejected: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidWebhook(f"webhook rejected: malformed signature headers ({exc})") from exc
    if not isinstance(event, dict) or "type" not in event:
        raise InvalidWebhook("webhook rejected: the body is not a billhook event")
    return event
