"""The invoicing workflow an invoice runs under, snapshotted when it leaves gathering.

Billing profiles and customer overrides (issue 3) merge into this shape; until a profile is in
force, every invoice runs the default: the sandbox app, auto-advance, no draft period, due in 30 days.
"""

from __future__ import annotations

import copy
from typing import Any

from billhook.domain.periods import Duration

DEFAULT_WORKFLOW: dict[str, Any] = {
    "collection": {"alignment": {"type": "subscription"}, "interval": "PT1H"},
    "invoicing": {
        "autoAdvance": True,
        "draftPeriod": "P0D",
        "dueAfter": "P30D",
        "billableGrace": "PT1H",
        "billableHookFailure": "hold",
    },
    "payment": {"collectionMethod": "charge_automatically"},
    "apps": {"invoicing": "sandbox", "payment": "sandbox"},
}


def default_workflow() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_WORKFLOW)


def auto_advance(workflow: dict[str, Any]) -> bool:
    return bool(workflow["invoicing"]["autoAdvance"])


def draft_period(workflow: dict[str, Any]) -> Duration:
    return Duration.parse(workflow["invoicing"]["draftPeriod"])


def due_after(workflow: dict[str, Any]) -> Duration:
    return Duration.parse(workflow["invoicing"]["dueAfter"])


def auto_settles(workflow: dict[str, Any]) -> bool:
    """The sandbox app settles payment by itself; an external app reports it."""
    return workflow.get("apps", {}).get("payment", "sandbox") == "sandbox"
