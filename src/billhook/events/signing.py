"""Standard Webhooks signatures: one per active secret, so a rotation overlaps without a gap."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def headers(msg_id: str, timestamp: datetime, body: str, active_secrets: Sequence[str]) -> dict[str, str]:
    """The webhook-id, webhook-timestamp and webhook-signature headers for ``body``."""
    signatures = " ".join(Webhook(s).sign(msg_id=msg_id, timestamp=timestamp, data=body) for s in active_secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
