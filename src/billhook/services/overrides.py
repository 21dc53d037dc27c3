"""Customer overrides: pin a customer to a billing profile and override workflow fields for it alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from billhook.errors import NotFound
from billhook.services import customers, profiles
from billhook.services.common import Actor, Page, iso, paginate
from billhook.store.schema import customer_overrides
from billhook.store.schema import customers as customers_t
from billhook.store.uow import UnitOfWork


def _view(uow: UnitOfWork, customer: Row[Any], *, expand_customer: bool = False) -> dict[str, Any]:
    force = profiles.in_force(uow, customer.namespace, customer.id)
    out: dict[str, Any] = {
        "baseBillingProfileId": force.profile.id,
        "customerProfile": {
            "supplier": force.profile.supplier,
            "workflow": force.workflow,
            "apps": profiles.app_refs(force.profile),
        },
    }
    if force.override is not None:
        out["customerOverride"] = {
            "customerId": customer.id,
            "billingProfileId": force.override.billing_profile_id,
            "workflow": force.override.workflow,
            "createdAt": iso(force.override.created_at),
            "updatedAt": iso(force.override.updated_at),
        }
    if expand_customer:
        out["customer"] = customers.view(customer)
    return out


def get(uow: UnitOfWork, namespace: str, customer_id: str, *, expand_customer: bool = False) -> dict[str, Any]:
    return _view(uow, customers.find(uow, namespace, customer_id), expand_customer=expand_customer)


def upsert(uow: UnitOfWork, actor: Actor, customer_id: str, data: dict[str, Any]) -> dict[str, Any]:
    customer = customers.find(uow, actor.namespace, customer_id)
    profile_id = data.get("billingProfileId")
    if profile_id:
        profile_id = profiles.find(uow, actor.namespace, profile_id, field="billingProfileId").id
    workflow = profiles.validate_workflow(data.get("workflow")) or None
    uow.lock_customer(customer.id)
    exists = uow.conn.execute(
        select(customer_overrides.c.customer_id).where(customer_overrides.c.customer_id == customer.id)
    ).first()
    values = {"billing_profile_id": profile_id, "workflow": workflow, "updated_at": uow.now}
    if exists is None:
        uow.conn.execute(
            insert(customer_overrides).values(
                values | {"customer_id": customer.id, "namespace": actor.namespace, "created_at": uow.now}
            )
        )
    else:
        uow.conn.execute(
            update(customer_overrides).where(customer_overrides.c.customer_id == customer.id).values(values)
        )
    return _view(uow, customer)


def remove(uow: UnitOfWork, actor: Actor, customer_id: str) -> None:
    customer = customers.find(uow, actor.namespace, customer_id)
    result = uow.conn.execute(delete(customer_overrides).where(customer_overrides.c.customer_id == customer.id))
    if result.rowcount == 0:
        raise NotFound(f"customer {customer_id!r} has no override")


def list_(
    uow: UnitOfWork,
    namespace: str,
    page: Page,
    *,
    billing_profiles: Sequence[str] = (),
    customer_ids: Sequence[str] = (),
    include_all_customers: bool = False,
    expand_customer: bool = False,
) -> dict[str, Any]:
    q = select(customers_t).where(customers_t.c.namespace == namespace, customers_t.c.deleted_at.is_(None))
    if not include_all_customers:
        pinned = select(customer_overrides.c.customer_id)
        if billing_profiles:
            pinned = pinned.where(customer_overrides.c.billing_profile_id.in_(billing_profiles))
        q = q.where(customers_t.c.id.in_(pinned))
    if customer_ids:
        q = q.where(customers_t.c.id.in_(customer_ids))
    return paginate(uow, q.order_by(customers_t.c.id), page, lambda c: _view(uow, c, expand_customer=expand_customer))
