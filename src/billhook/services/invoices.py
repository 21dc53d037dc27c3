"""Invoices as stored rows: creation, lines, totals and the wire view (OpenMeter's shape)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, delete, select, update

from billhook.domain import lifecycle
from billhook.domain.invoicing import LineDraft, Totals, totals
from billhook.domain.money import ZERO, fmt, money_str, round_money
from billhook.errors import NotFound
from billhook.ids import new_id
from billhook.services import billable, profiles
from billhook.services.common import iso
from billhook.store.schema import customers, invoice_lines, invoice_transitions, invoices
from billhook.store.sql import among
from billhook.store.uow import UnitOfWork

GATHERING = lifecycle.S.GATHERING


def create(
    uow: UnitOfWork,
    *,
    namespace: str,
    customer_id: str,
    subscription_id: str | None,
    kind: str,
    currency: str,
    period: tuple[Any, Any],
    status: lifecycle.S = GATHERING,
) -> str:
    invoice_id = new_id()
    zero = round_money(ZERO, currency)
    uow.insert(
        invoices,
        [
            dict(
                id=invoice_id,
                namespace=namespace,
                customer_id=customer_id,
                subscription_id=subscription_id,
                kind=kind,
                currency=currency,
                status=status.short,
                extended_status=status.value,
                number=f"DRAFT-{invoice_id}",
                period_start=period[0],
                period_end=period[1],
                **snapshot(uow, namespace, customer_id),
                amount=zero,
                charges_total=zero,
                discounts_total=zero,
                credits_total=zero,
                taxes_total=zero,
                total=zero,
                validation_issues=[],
                created_at=uow.now,
                updated_at=uow.now,
                version=1,
            )
        ],
    )
    billable.none_yet(uow, invoice_id)
    return invoice_id


def snapshot(uow: UnitOfWork, namespace: str, customer_id: str) -> dict[str, Any]:
    """The profile, apps, supplier and merged workflow in force for the customer now."""
    force = profiles.in_force(uow, namespace, customer_id)
    p = force.profile
    return {
        "profile_id": p.id,
        "tax_app_id": p.tax_app_id,
        "invoicing_app_id": p.invoicing_app_id,
        "payment_app_id": p.payment_app_id,
        "supplier": p.supplier,
        "workflow": force.workflow,
    }


def take_snapshot(uow: UnitOfWork, inv: Row[Any]) -> Row[Any]:
    """Snapshot the workflow as the invoice leaves gathering: later profile changes don't touch it."""
    return uow.conn.execute(
        update(invoices)
        .where(invoices.c.id == inv.id)
        .values(snapshot(uow, inv.namespace, inv.customer_id))
        .returning(*invoices.c)
    ).one()


def find(uow: UnitOfWork, namespace: str, invoice_id: str) -> Row[Any]:
    row = uow.conn.execute(
        select(invoices).where(invoices.c.id == invoice_id, invoices.c.namespace == namespace)
    ).first()
    if row is None:
        raise NotFound(f"invoice {invoice_id!r} not found")
    return row


def load(uow: UnitOfWork, invoice_id: str) -> Row[Any]:
    return uow.conn.execute(select(invoices).where(invoices.c.id == invoice_id)).one()


def stored_lines(uow: UnitOfWork, invoice_id: str) -> list[Row[Any]]:
    prefetched = uow.memo.pop(("lines", invoice_id), None)
    if prefetched is not None:
        return prefetched  # type: ignore[return-value]
    return list(
        uow.conn.execute(
            select(invoice_lines).where(invoice_lines.c.invoice_id == invoice_id).order_by(invoice_lines.c.position)
        )
    )


def prefetch_lines(uow: UnitOfWork, invoice_ids: Sequence[str]) -> None:
    """The stored lines of these invoices, one statement for all, for ``stored_lines`` to hand out once."""
    found: dict[str, list[Row[Any]]] = {i: [] for i in invoice_ids}
    if invoice_ids:
        q = select(invoice_lines).where(among(uow.conn, invoice_lines.c.invoice_id, invoice_ids))
        for r in uow.conn.execute(q.order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)):
            found[r.invoice_id].append(r)
    for invoice_id, rows in found.items():
        uow.memo[("lines", invoice_id)] = rows


def prefetch_customers(uow: UnitOfWork, customer_ids: Collection[str]) -> None:
    """The customers these invoices show, one statement for all, kept for the transaction (see ``view``)."""
    if customer_ids:
        for r in uow.conn.execute(select(customers).where(among(uow.conn, customers.c.id, customer_ids))):
            uow.memo[("customer", r.id)] = r


def identity(kind: str, key: str, period_start: Any, custom_charge_id: str | None) -> str:
    """What makes a computed line the same line again across recalculations."""
    return f"{kind}|{key}|{iso(period_start)}|{custom_charge_id or ''}"


def _row_identity(r: Any) -> str:
    return identity(r.kind, r.key, r.period_start, r.custom_charge_id)


def write_lines(
    uow: UnitOfWork, inv: Row[Any], drafts: Sequence[LineDraft], *, keep: Sequence[str] = ("manual",)
) -> Row[Any]:
    """Replace the invoice's computed lines with ``drafts`` and store the new totals; returns the invoice."""
    values, _ = replace_lines(uow, inv, drafts, keep=keep)
    return uow.conn.execute(update(invoices).where(invoices.c.id == inv.id).values(values).returning(*invoices.c)).one()


_NO_LINE = {c.name: None for c in invoice_lines.c}


def replace_lines(
    uow: UnitOfWork, inv: Row[Any], drafts: Sequence[LineDraft], *, keep: Sequence[str] = ("manual",)
) -> tuple[dict[str, Any], list[Any]]:
    """Replace the invoice's computed lines with ``drafts``; returns the invoice's new totals (column
    values, for the caller to store) and its lines as they are now stored, in order.

    A line that stands again (same kind, key, period and custom charge) keeps its id, so external
    ids synced for it stay valid. Lines of a kind in ``keep`` and lines edited by hand are left as
    they are, and a computed line never comes back over one edited or removed by hand.
    """
    existing = stored_lines(uow, inv.id)
    kept = [r for r in existing if r.kind in keep or r.managed_by == "manual"]
    kept_ids = {r.id for r in kept}
    skip = {_row_identity(r) for r in kept} | set(inv.removed_lines or [])
    reusable = {_row_identity(r): r for r in existing if r.id not in kept_ids}
    if reusable:
        uow.conn.execute(delete(invoice_lines).where(invoice_lines.c.id.in_([r.id for r in reusable.values()])))
    rows: list[dict[str, Any]] = []
    for d in drafts:
        ident = identity(d.kind, d.key, d.period.start, d.custom_charge_id)
        if ident in skip:
            continue
        old = reusable.get(ident)
        rows.append(
            {
                "id": old.id if old is not None else new_id(),
                "namespace": inv.namespace,
                "invoice_id": inv.id,
                "position": len(kept) + len(rows),
                "kind": d.kind,
                "managed_by": "subscription",
                "key": d.key,
                "name": d.name,
                "description": None,
                "period_start": d.period.start,
                "period_end": d.period.end,
                "invoice_at": d.invoice_at,
                "price": d.price.to_wire() if d.price is not None else None,
                "quantity": d.quantity,
                "included": d.included,
                "amount": d.amount,
                "custom_charge_id": d.custom_charge_id,
                "external_invoicing_id": old.external_invoicing_id if old is not None else None,
                "created_at": old.created_at if old is not None else uow.now,
                "updated_at": uow.now,
            }
        )
    uow.insert(invoice_lines, rows)
    written = [SimpleNamespace(**(_NO_LINE | r)) for r in rows]  # as stored (read back, they'd be equal)
    values = totals_values(uow, inv, [r.amount for r in kept] + [r.amount for r in written])
    return values, sorted(kept + written, key=lambda r: r.position)


def store_totals(uow: UnitOfWork, inv: Row[Any], amounts: Sequence[Decimal]) -> None:
    """Store the totals of these line amounts."""
    uow.conn.execute(update(invoices).where(invoices.c.id == inv.id).values(totals_values(uow, inv, amounts)))


def totals_values(uow: UnitOfWork, inv: Row[Any], amounts: Sequence[Decimal]) -> dict[str, Any]:
    """The invoice's total columns for these line amounts."""
    t = totals(amounts, inv.currency)
    return {
        "amount": t.amount,
        "charges_total": t.charges_total,
        "discounts_total": t.discounts_total,
        "credits_total": t.credits_total,
        "taxes_total": t.taxes_total,
        "total": t.total,
        "updated_at": uow.now,
    }


# ---------------------------------------------------------------------------------------- views


def _period(start: Any, end: Any) -> dict[str, Any]:
    return {"from": iso(start), "to": iso(end)}


def _line_totals(amount: Decimal, currency: str) -> dict[str, str]:
    a = money_str(amount, currency)
    z = money_str(ZERO, currency)
    credit = amount < 0
    return {
        "amount": z if credit else a,
        "chargesTotal": z,
        "discountsTotal": z,
        "creditsTotal": money_str(-amount, currency) if credit else z,
        "taxesInclusiveTotal": z,
        "taxesExclusiveTotal": z,
        "taxesTotal": z,
        "total": a,
    }


def line_view(row: Any, inv: Row[Any]) -> dict[str, Any]:
    """An invoice line in OpenMeter's shape: every top-level line is ``usage_based``, a flat fee too."""
    kind, key, quantity, managed_by = row.kind, row.key, row.quantity, row.managed_by
    price = row.price
    if price is None and kind in ("custom", "manual"):
        amount = row.amount
        price = {"type": "flat", "amount": fmt(amount / quantity if quantity else amount), "paymentTerm": "in_arrears"}
    usage = kind == "usage"
    feature_key = key if usage else None
    period = _period(row.period_start, row.period_end)
    out: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "metadata": row.metadata or {},
        "type": "usage_based",
        "kind": kind,
        "managedBy": managed_by,
        "status": "valid",
        "currency": inv.currency,
        "invoice": {"id": inv.id, "number": inv.number},
        "period": period,
        "invoiceAt": iso(row.invoice_at),
        "price": price,
        "rateCard": {"featureKey": feature_key, "price": price},
        "featureKey": feature_key,
        "quantity": fmt(quantity),
        "includedQuantity": fmt(row.included) if usage else None,
        "chargeCode": key if kind == "custom" else None,
        "customChargeId": row.custom_charge_id,
        "totals": _line_totals(row.amount, inv.currency),
        "externalIds": {"invoicing": row.external_invoicing_id},
        "discounts": {"amount": [], "usage": []},
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
    if managed_by == "subscription" and inv.subscription_id:
        subscription_id = inv.subscription_id
        out["subscription"] = {
            "subscription": {"id": subscription_id},
            "phase": {"id": subscription_id},
            "item": {"id": key},
            "billingPeriod": dict(period),
        }
    return out


def totals_view(t: Totals, currency: str) -> dict[str, str]:
    return {
        "amount": money_str(t.amount, currency),
        "chargesTotal": money_str(t.charges_total, currency),
        "discountsTotal": money_str(t.discounts_total, currency),
        "creditsTotal": money_str(t.credits_total, currency),
        "taxesInclusiveTotal": money_str(t.taxes_inclusive_total, currency),
        "taxesExclusiveTotal": money_str(t.taxes_exclusive_total, currency),
        "taxesTotal": money_str(t.taxes_total, currency),
        "total": money_str(t.total, currency),
    }


def stored_totals(inv: Row[Any]) -> Totals:
    z = ZERO
    return Totals(
        inv.amount, inv.charges_total, inv.discounts_total, inv.credits_total, z, z, inv.taxes_total, inv.total
    )


def api_status(uow: UnitOfWork, inv: Row[Any], state: lifecycle.S) -> str:
    """``status`` on the wire. OpenMeter's InvoiceStatus has no ``deleted`` (typed clients reject it): a
    deleted invoice keeps the status it was deleted from, and ``deletedAt`` and the extended status say so."""
    if state != lifecycle.S.DELETED:
        return state.short
    last = uow.conn.execute(
        select(invoice_transitions.c.from_status)
        .where(invoice_transitions.c.invoice_id == inv.id, invoice_transitions.c.to_status == state.value)
        .order_by(invoice_transitions.c.seq.desc())
        .limit(1)
    ).first()
    return lifecycle.S(last.from_status).short if last is not None else lifecycle.S.DRAFT_CREATED.short


def view(
    uow: UnitOfWork,
    inv: Row[Any],
    *,
    facts: lifecycle.Facts,
    lines: Sequence[Any] | None = None,
    line_totals: Totals | None = None,
) -> dict[str, Any]:
    """The Invoice resource. ``lines`` and ``line_totals`` override stored ones (a gathering preview)."""
    line_views = [line_view(r, inv) for r in (stored_lines(uow, inv.id) if lines is None else lines)]
    t = line_totals if line_totals is not None else stored_totals(inv)
    return settled_view(uow, inv, line_views, totals_view(t, inv.currency)) | changing_view(uow, inv, facts)


def settled_view(uow: UnitOfWork, inv: Any, line_views: list[dict[str, Any]], totals: dict[str, str]) -> dict[str, Any]:
    """The part of the Invoice resource that a transition never changes (see ``changing_view``)."""
    key = ("customer", inv.customer_id)
    if key not in uow.memo:  # read once per transaction: an invoice's every transition shows it
        uow.memo[key] = uow.conn.execute(select(customers).where(customers.c.id == inv.customer_id)).one()
    cust: Any = uow.memo[key]
    return {
        "id": inv.id,
        "type": "standard",
        "currency": inv.currency,
        "description": inv.description,
        "supplier": inv.supplier or {},
        "customer": {
            "id": cust.id,
            "key": cust.key,
            "name": cust.name,
            "primaryEmail": cust.primary_email,
            "addresses": [cust.billing_address] if cust.billing_address else [],
            "usageAttribution": cust.usage_attribution or {"subjectKeys": []},
        },
        "subscriptionId": inv.subscription_id,
        "period": _period(inv.period_start, inv.period_end),
        "createdAt": iso(inv.created_at),
        "sentToCustomerAt": iso(inv.sent_to_customer_at),
        "workflow": {
            "sourceBillingProfileId": inv.profile_id,
            "workflow": inv.workflow,
            "apps": {
                "tax": {"id": inv.tax_app_id},
                "invoicing": {"id": inv.invoicing_app_id},
                "payment": {"id": inv.payment_app_id},
            },
        },
        "lines": line_views,
        "totals": totals,
        "externalIds": {"invoicing": inv.external_invoicing_id, "payment": inv.external_payment_id},
        "metadata": inv.metadata or {},
    }


def changing_view(uow: UnitOfWork, inv: Any, facts: lifecycle.Facts) -> dict[str, Any]:
    """The part of the Invoice resource that a transition may change: what ``_on_enter`` in the
    lifecycle sets (and the status). Its lines show the number too: a walk patches those itself."""
    state = lifecycle.S(inv.extended_status)
    return {
        "number": inv.number,
        "status": api_status(uow, inv, state),
        "statusDetails": {
            "immutable": state in lifecycle.IMMUTABLE,
            "failed": state in lifecycle.FAILED,
            "extendedStatus": state.value,
            "availableActions": lifecycle.available_actions(state, facts),
        },
        "updatedAt": iso(inv.updated_at),
        "issuedAt": iso(inv.issued_at),
        "draftUntil": iso(inv.draft_until),
        "dueAt": iso(inv.due_at),
        "voidedAt": iso(inv.voided_at),
        "paidAt": iso(inv.paid_at),
        "deletedAt": iso(inv.deleted_at),
        "validationIssues": inv.validation_issues,
    }


def history(uow: UnitOfWork, invoice_id: str) -> list[dict[str, Any]]:
    rows = uow.conn.execute(
        select(invoice_transitions)
        .where(invoice_transitions.c.invoice_id == invoice_id)
        .order_by(invoice_transitions.c.seq)
    )
    return [
        {"from": r.from_status, "to": r.to_status, "trigger": r.trigger, "actor": r.actor, "at": iso(r.at)}
        for r in rows
    ]
