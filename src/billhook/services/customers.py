"""Customers (OpenMeter's shape)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, or_, select, update

from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.ids import new_id
from billhook.services.common import Actor, Page, currency_field, iso, paginate
from billhook.store.schema import customers, subscriptions
from billhook.store.uow import UnitOfWork

FIELDS = ("key", "name", "description", "primaryEmail", "currency", "billingAddress", "metadata", "usageAttribution")
_COLUMNS = {
    "key": "key",
    "name": "name",
    "description": "description",
    "primaryEmail": "primary_email",
    "currency": "currency",
    "billingAddress": "billing_address",
    "metadata": "metadata",
    "usageAttribution": "usage_attribution",
}


def view(row: Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "key": row.key,
        "name": row.name,
        "description": row.description,
        "primaryEmail": row.primary_email,
        "currency": row.currency,
        "billingAddress": row.billing_address,
        "metadata": row.metadata or {},
        "usageAttribution": row.usage_attribution or {"subjectKeys": []},
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
    if row.deleted_at is not None:
        out["deletedAt"] = iso(row.deleted_at)
    return out


def find(uow: UnitOfWork, namespace: str, id_or_key: str, *, field: str | None = None) -> Row[Any]:
    """A live customer by id or key; NotFound (or InvalidInput on ``field``) otherwise."""
    row = uow.conn.execute(
        select(customers).where(
            customers.c.namespace == namespace,
            customers.c.deleted_at.is_(None),
            or_(customers.c.id == id_or_key, customers.c.key == id_or_key),
        )
    ).first()
    if row is None:
        if field:
            raise InvalidInput.on(field, f"no customer {id_or_key!r}")
        raise NotFound(f"customer {id_or_key!r} not found")
    return row


def _check_key_free(uow: UnitOfWork, namespace: str, key: str | None, except_id: str | None = None) -> None:
    if key is None:
        return
    q = select(customers.c.id).where(
        customers.c.namespace == namespace, or_(customers.c.key == key, customers.c.id == key)
    )
    if except_id:
        q = q.where(customers.c.id != except_id)
    if uow.conn.execute(q).first() is not None:
        raise Conflict(f"a customer with key {key!r} already exists", code="customer_key_taken")


def _values(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("currency") is not None:
        currency_field(data["currency"])
    return {_COLUMNS[k]: data.get(k) for k in FIELDS}


def create(uow: UnitOfWork, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    _check_key_free(uow, actor.namespace, data.get("key"))
    values = _values(data) | {
        "id": new_id(),
        "namespace": actor.namespace,
        "created_at": uow.now,
        "updated_at": uow.now,
    }
    uow.conn.execute(insert(customers).values(values))
    return view(find(uow, actor.namespace, values["id"]))


def replace(uow: UnitOfWork, actor: Actor, id_or_key: str, data: dict[str, Any]) -> dict[str, Any]:
    row = find(uow, actor.namespace, id_or_key)
    _check_key_free(uow, actor.namespace, data.get("key"), except_id=row.id)
    if data.get("currency") != row.currency and _has_subscriptions(uow, row.id):
        raise Conflict("the currency of a customer with subscriptions cannot change", code="currency_locked")
    values = _values(data) | {"updated_at": uow.now}
    uow.conn.execute(update(customers).where(customers.c.id == row.id).values(values))
    return view(find(uow, actor.namespace, row.id))


def delete(uow: UnitOfWork, actor: Actor, id_or_key: str) -> None:
    row = find(uow, actor.namespace, id_or_key)
    live = uow.conn.execute(
        select(subscriptions.c.id).where(
            subscriptions.c.customer_id == row.id, subscriptions.c.status.in_(("trialing", "active", "canceled"))
        )
    ).first()
    if live is not None:
        raise Conflict("the customer has running subscriptions; cancel them first", code="customer_has_subscriptions")
    uow.conn.execute(update(customers).where(customers.c.id == row.id).values(deleted_at=uow.now, updated_at=uow.now))


def _has_subscriptions(uow: UnitOfWork, customer_id: str) -> bool:
    q = select(subscriptions.c.id).where(subscriptions.c.customer_id == customer_id)
    return uow.conn.execute(q).first() is not None


def get(uow: UnitOfWork, namespace: str, id_or_key: str) -> dict[str, Any]:
    return view(find(uow, namespace, id_or_key))


def list_(uow: UnitOfWork, namespace: str, page: Page, *, include_deleted: bool = False) -> dict[str, Any]:
    q = select(customers).where(customers.c.namespace == namespace)
    if not include_deleted:
        q = q.where(customers.c.deleted_at.is_(None))
    return paginate(uow, q.order_by(customers.c.id), page, view)
