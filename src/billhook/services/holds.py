"""What an invoice waits for, in words an operator understands."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from billhook.domain.lifecycle import S
from billhook.services import billable, lifecycle
from billhook.store.uow import UnitOfWork


def _hm(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def waiting_for(uow: UnitOfWork, inv: Row[Any]) -> str | None:
    """A short sentence saying what the invoice waits on, or None when it waits for nothing."""
    state = S(inv.extended_status)
    if state == S.GATHERING:
        return f"gathering until its period ends ({_hm(inv.period_end)})"
    if state == S.DRAFT_OUTSTANDING:
        h = billable.hold(uow, inv)
        total = h.pending + h.delivered + h.failed
        if h.behind is not None and not h.pending:
            return f"waiting for the older held invoice {h.behind} to run first"
        if h.pending:
            return f"waiting for billable hooks: {h.delivered} of {total} delivered"
        if h.failed and not h.released and h.release_at is None:
            return f"billable hook failed ({h.failed} of {total}): redeliver or run it by hand"
        if h.release_at is not None and not h.released:
            return f"grace until {_hm(h.release_at)}"
        return None
    if state == S.DRAFT_SYNCING:
        f = lifecycle.facts(uow, inv)
        return "waiting for draft sync" if f.draft_sync_hook and not f.draft_synced else None
    if state == S.DRAFT_WAITING_AUTO_APPROVAL and inv.draft_until is not None:
        return f"draft period until {_hm(inv.draft_until)}"
    if state == S.DRAFT_MANUAL_APPROVAL_NEEDED:
        return "waiting for approval"
    if state == S.DRAFT_INVALID:
        return "invalid: fix it, then retry"
    if state == S.ISSUING_SYNCING:
        return "waiting for issuing sync"
    if state == S.ISSUING_FAILED:
        return "issuing failed: retry"
    if state in (S.PAYMENT_PENDING, S.PAYMENT_ACTION_REQUIRED, S.PAYMENT_FAILED, S.OVERDUE):
        due = f" (due {_hm(inv.due_at)})" if inv.due_at is not None else ""
        return f"waiting for payment status{due}"
    return None
