"""Figures for the operator's plots: revenue invoiced per period, invoices by status over time."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from billhook.domain.lifecycle import S
from billhook.domain.money import fmt
from billhook.store.schema import invoices
from billhook.store.uow import UnitOfWork

INVOICED = {
    S.ISSUED,
    S.PAYMENT_PENDING,
    S.PAYMENT_FAILED,
    S.PAYMENT_ACTION_REQUIRED,
    S.OVERDUE,
    S.PAID,
    S.UNCOLLECTIBLE,
}


def revenue_by_period(uow: UnitOfWork, namespace: str) -> dict[str, Any]:
    """Totals of issued invoices per currency and month of their period start."""
    rows = uow.conn.execute(
        select(invoices.c.currency, invoices.c.period_start, invoices.c.total, invoices.c.extended_status).where(
            invoices.c.namespace == namespace, invoices.c.issued_at.is_not(None)
        )
    )
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        if S(r.extended_status) in INVOICED:
            sums[r.currency][r.period_start.strftime("%Y-%m")] += r.total
    return {
        "series": [
            {"currency": cur, "points": [{"period": p, "total": fmt(v)} for p, v in sorted(by_month.items())]}
            for cur, by_month in sorted(sums.items())
        ]
    }


def status_over_time(uow: UnitOfWork, namespace: str) -> dict[str, Any]:
    """How many invoices created each month are in each status now."""
    rows = uow.conn.execute(
        select(invoices.c.created_at, invoices.c.status).where(
            invoices.c.namespace == namespace, invoices.c.status != "gathering", invoices.c.status != "deleted"
        )
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        counts[r.created_at.strftime("%Y-%m")][r.status] += 1
    return {"points": [{"period": p, "counts": dict(c)} for p, c in sorted(counts.items())]}
