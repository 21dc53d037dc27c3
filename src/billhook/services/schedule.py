"""What the worker does with an invoice whose next look is due."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from billhook.domain.lifecycle import S
from billhook.services import lifecycle, pending_lines
from billhook.services.common import Actor
from billhook.store.uow import UnitOfWork


def run_due(uow: UnitOfWork, actor: Actor, inv: Row[Any]) -> Row[Any]:
    """Pending lines that fell due are invoiced; anything else advances as far as the table allows."""
    if inv.extended_status == S.GATHERING and inv.kind == "manual":
        return pending_lines.invoice_pending(uow, actor, inv, uow.now) or inv
    return lifecycle.advance(uow, actor, inv)
