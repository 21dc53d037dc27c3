"""The event catalog: every type billhook emits, and what each says."""

from __future__ import annotations

CATALOG: dict[str, str] = {
    "invoice.created": "an invoice left gathering (data: the Invoice)",
    "invoice.updated": "an invoice changed status or was edited (data: the Invoice)",
    "invoice.paid": "an invoice was paid (data: the Invoice)",
    "invoice.overdue": "an invoice's due date passed unpaid (data: the Invoice)",
    "subscription.created": "a subscription was created (data: the Subscription)",
    "subscription.canceled": "a subscription was canceled (data: the Subscription)",
    "subscription.billable": (
        "a subscription's period ended and its invoice is held outstanding until every delivery of this "
        "event succeeded and the billable grace passed (data: {subscription, customer, invoice})"
    ),
}
BILLABLE = "subscription.billable"
