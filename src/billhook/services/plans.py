"""Plans: recurring charges and tracked items, in one currency and one billing cadence."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, insert, or_, select, update

from billhook.domain.catalog import PlanRules, RecurringCharge, TrackedItem
from billhook.domain.money import QUANTITY_PLACES
from billhook.domain.periods import Duration, DurationError, parse_cadence
from billhook.domain.pricing import PriceError, parse_price
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.ids import new_id
from billhook.services.common import Actor, Page, currency_field, decimal_field, duration_field, iso, paginate
from billhook.store.schema import plans, subscriptions
from billhook.store.uow import UnitOfWork

# A subscription starts by 9000-01-01 at the latest; its trial must end in a year dates can hold.
_LATEST_START = datetime(9000, 1, 1, tzinfo=UTC)
_LATEST_TRIAL_END = datetime(9900, 1, 1, tzinfo=UTC)


def view(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "name": row.name,
        "description": row.description,
        "currency": row.currency,
        "billingCadence": row.billing_cadence,
        "trialPeriod": row.trial_period,
        "charges": row.charges,
        "items": row.items,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


RULE_COLUMNS = ("currency", "billing_cadence", "trial_period", "charges", "items")  # what ``rules`` reads


def rules(row: Row[Any]) -> PlanRules:
    """The billing rules of a stored plan (already validated when it was saved): of its columns, it
    reads only ``RULE_COLUMNS``."""
    return PlanRules(
        currency=row.currency,
        cadence=parse_cadence(row.billing_cadence),
        trial=Duration.parse(row.trial_period) if row.trial_period else None,
        charges=tuple(RecurringCharge(c["key"], c["name"], parse_price(c["price"])) for c in row.charges),
        items=tuple(
            TrackedItem(i["key"], i["name"], Decimal(i["includedQuantity"]), i["usageType"], parse_price(i["price"]))
            for i in row.items
        ),
    )


def find(uow: UnitOfWork, namespace: str, id_or_key: str, *, field: str | None = None) -> Row[Any]:
    row = uow.conn.execute(
        select(plans).where(plans.c.namespace == namespace, or_(plans.c.id == id_or_key, plans.c.key == id_or_key))
    ).first()
    if row is None:
        if field:
            raise InvalidInput.on(field, f"no plan {id_or_key!r}")
        raise NotFound(f"plan {id_or_key!r} not found")
    return row


def _price(raw: Any, field: str, allowed: tuple[str, ...] = ()) -> dict[str, Any]:
    try:
        return parse_price(raw, field, allowed=allowed).to_wire()
    except PriceError as exc:
        raise InvalidInput.on(exc.field, exc.message) from exc


def _unique(keys: list[str], field: str) -> None:
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key in seen:
            raise InvalidInput.on(f"{field}[{i}].key", f"duplicate key {key!r}")
        seen.add(key)


def _validated(data: dict[str, Any]) -> dict[str, Any]:
    currency_field(data["currency"])
    try:
        parse_cadence(data["billingCadence"])
    except DurationError as exc:
        raise InvalidInput.on("billingCadence", str(exc)) from exc
    trial = data.get("trialPeriod")
    if trial is not None:
        duration = duration_field(trial, "trialPeriod")
        try:
            too_long = duration.after(_LATEST_START) > _LATEST_TRIAL_END
        except (OverflowError, ValueError):
            too_long = True
        if too_long:
            raise InvalidInput.on("trialPeriod", "is too long")
        if duration.is_zero():
            trial = None
    charges = [
        {
            "key": c["key"],
            "name": c.get("name") or c["key"],
            "price": _price(c["price"], f"charges[{i}].price", ("flat",)),
        }
        for i, c in enumerate(data.get("charges") or [])
    ]
    items = []
    for i, item in enumerate(data.get("items") or []):
        usage = item.get("usageType") or "metered"
        included = decimal_field(
            item.get("includedQuantity", "0"), f"items[{i}].includedQuantity", max_places=QUANTITY_PLACES
        )
        items.append(
            {
                "key": item["key"],
                "name": item.get("name") or item["key"],
                "includedQuantity": format(included, "f"),
                "usageType": usage,
                "price": _price(item["price"], f"items[{i}].price"),
            }
        )
    _unique([c["key"] for c in charges], "charges")
    _unique([i["key"] for i in items], "items")
    return {
        "name": data["name"],
        "description": data.get("description"),
        "currency": data["currency"],
        "billing_cadence": data["billingCadence"],
        "trial_period": trial,
        "charges": charges,
        "items": items,
    }


def create(uow: UnitOfWork, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    values = _validated(data)
    taken = select(plans.c.id).where(
        plans.c.namespace == actor.namespace, or_(plans.c.key == data["key"], plans.c.id == data["key"])
    )
    if uow.conn.execute(taken).first() is not None:
        raise Conflict(f"a plan with key {data['key']!r} already exists", code="plan_key_taken")
    plan_id = new_id()
    uow.conn.execute(
        insert(plans).values(
            values
            | {
                "id": plan_id,
                "namespace": actor.namespace,
                "key": data["key"],
                "created_at": uow.now,
                "updated_at": uow.now,
            }
        )
    )
    return view(find(uow, actor.namespace, plan_id))


def replace(uow: UnitOfWork, actor: Actor, id_or_key: str, data: dict[str, Any]) -> dict[str, Any]:
    """Replace a plan's definition. Running subscriptions bill by it from their next invoice on."""
    row = find(uow, actor.namespace, id_or_key)
    values = _validated(data)
    used = uow.conn.execute(select(subscriptions.c.id).where(subscriptions.c.plan_id == row.id)).first()
    if used is not None:
        for column, wire in (("currency", "currency"), ("billing_cadence", "billingCadence")):
            if values[column] != getattr(row, column):
                raise Conflict(f"{wire} cannot change on a plan that has subscriptions", code="plan_in_use")
    uow.conn.execute(update(plans).where(plans.c.id == row.id).values(values | {"updated_at": uow.now}))
    uow.memo.pop(("plan_rules", row.id), None)  # billing.plan_rules reads it again
    return view(find(uow, actor.namespace, row.id))


def get(uow: UnitOfWork, namespace: str, id_or_key: str) -> dict[str, Any]:
    return view(find(uow, namespace, id_or_key))


def list_(uow: UnitOfWork, namespace: str, page: Page) -> dict[str, Any]:
    return paginate(uow, select(plans).where(plans.c.namespace == namespace).order_by(plans.c.id), page, view)
