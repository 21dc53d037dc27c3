"""Reading an invoice's snapshotted workflow (the billing profile's, merged with the customer's override)."""

from __future__ import annotations

from typing import Any

from billhook.domain.periods import Duration


def auto_advance(workflow: dict[str, Any]) -> bool:
    return bool(workflow["invoicing"]["autoAdvance"])


def draft_period(workflow: dict[str, Any]) -> Duration:
    return Duration.parse(workflow["invoicing"]["draftPeriod"])


def due_after(workflow: dict[str, Any]) -> Duration:
    return Duration.parse(workflow["invoicing"]["dueAfter"])


def billable_grace(workflow: dict[str, Any]) -> Duration:
    return Duration.parse(workflow["invoicing"].get("billableGrace", "PT1H"))


def billable_hook_failure(workflow: dict[str, Any]) -> str:
    return str(workflow["invoicing"].get("billableHookFailure", "hold"))
