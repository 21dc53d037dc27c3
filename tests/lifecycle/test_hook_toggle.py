"""A sync hook switched off no longer holds the invoices that were waiting for it."""

from __future__ import annotations

from typing import Any

from billhook.domain.lifecycle import S
from billhook.services import custom_invoicing, invoices
from tests.lifecycle.support import Watch, check_world, make_world

NO_WAIT = {"invoicing": {"autoAdvance": True, "draftPeriod": "P0D"}}


def test_switching_the_hooks_off_releases_held_invoices(runtime: Any) -> None:
    world = make_world(runtime, draft_hook=True, issuing_hook=True)
    customer = world.add_customer("acme", NO_WAIT)
    held_at_draft = world.invoice_lines_now(customer, [("10", "1")])
    held_at_issuing = world.invoice_lines_now(customer, [("20", "2")])
    world.write(custom_invoicing.draft_synchronized, held_at_issuing, {}, actor=world.integration)

    def status(invoice_id: str) -> str:
        return str(world.read(lambda uow: invoices.load(uow, invoice_id)).extended_status)

    assert status(held_at_draft) == S.DRAFT_SYNCING
    assert status(held_at_issuing) == S.ISSUING_SYNCING

    world.set_hooks(draft=False, issuing=False)
    world.drain()

    assert status(held_at_draft) == S.PAYMENT_PENDING
    assert status(held_at_issuing) == S.PAYMENT_PENDING
    for invoice_id, hold in ((held_at_draft, S.DRAFT_SYNCING), (held_at_issuing, S.ISSUING_SYNCING)):
        history = world.read(lambda uow, i=invoice_id: invoices.history(uow, i))
        release = next(h for h in history if h["from"] == hold)
        assert release["trigger"] == "next" and release["actor"].startswith("worker:"), release
    world.read(lambda uow: check_world(uow, world.namespace, Watch()))
