"""Billing profiles (supplier, workflow, apps), the namespace's default, and what is in force for a customer."""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from billhook.domain.periods import DurationError
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.ids import new_id
from billhook.services import apps
from billhook.services.common import Actor, Page, duration_field, iso, paginate
from billhook.store.schema import billing_profiles, customer_overrides, namespaces
from billhook.store.sql import among, insert_ignore
from billhook.store.uow import UnitOfWork

DEFAULT_WORKFLOW: dict[str, Any] = {
    "collection": {"alignment": {"type": "subscription"}, "interval": "PT1H"},
    "invoicing": {
        "autoAdvance": True,
        "draftPeriod": "P0D",
        "dueAfter": "P30D",
        "progressiveBilling": False,
        "billableGrace": "PT1H",
        "billableHookFailure": "hold",
    },
    "payment": {"collectionMethod": "charge_automatically"},
    "tax": {"enabled": False, "enforced": False},
}
_DURATIONS = (
    ("collection", "interval"),
    ("invoicing", "draftPeriod"),
    ("invoicing", "dueAfter"),
    ("invoicing", "billableGrace"),
)
_CHOICES = {
    ("invoicing", "billableHookFailure"): ("hold", "proceed"),
    ("payment", "collectionMethod"): ("charge_automatically", "send_invoice"),
}
MAX_WORKFLOW_YEARS = 100
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_BOOLS = (("invoicing", "autoAdvance"), ("invoicing", "progressiveBilling"), ("tax", "enabled"), ("tax", "enforced"))


def merge(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (None values leave the base as it is)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate_workflow(raw: dict[str, Any] | None, field: str = "workflow") -> dict[str, Any]:
    """Check the workflow fields billhook reads; returns only what was given (for overrides)."""
    raw = raw or {}
    for section, key in _DURATIONS:
        value = (raw.get(section) or {}).get(key)
        if value is not None:
            try:
                duration = duration_field(value, f"{field}.{section}.{key}")
            except DurationError as exc:  # pragma: no cover - duration_field raises InvalidInput
                raise InvalidInput.on(f"{field}.{section}.{key}", str(exc)) from exc
            # it is added to dates later (dueAt, draftUntil): keep those in range
            try:
                too_long = duration.after(_EPOCH) > _EPOCH.replace(year=_EPOCH.year + MAX_WORKFLOW_YEARS)
            except (OverflowError, ValueError):
                too_long = True
            if too_long:
                raise InvalidInput.on(f"{field}.{section}.{key}", f"must be at most P{MAX_WORKFLOW_YEARS}Y")
    for (section, key), allowed in _CHOICES.items():
        value = (raw.get(section) or {}).get(key)
        if value is not None and value not in allowed:
            raise InvalidInput.on(f"{field}.{section}.{key}", f"must be one of {', '.join(allowed)}")
    for section, key in _BOOLS:
        value = (raw.get(section) or {}).get(key)
        if value is not None and not isinstance(value, bool):
            raise InvalidInput.on(f"{field}.{section}.{key}", "must be true or false")
    return raw


def view(row: Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "metadata": row.metadata or {},
        "default": row.is_default,
        "supplier": row.supplier,
        "workflow": row.workflow,
        "apps": app_refs(row),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
    if row.deleted_at is not None:
        out["deletedAt"] = iso(row.deleted_at)
    return out


def app_refs(row: Any) -> dict[str, dict[str, str]]:
    return {
        "tax": {"id": row.tax_app_id},
        "invoicing": {"id": row.invoicing_app_id},
        "payment": {"id": row.payment_app_id},
    }


def find(uow: UnitOfWork, namespace: str, profile_id: str, *, field: str | None = None) -> Row[Any]:
    row = uow.conn.execute(
        select(billing_profiles).where(
            billing_profiles.c.id == profile_id,
            billing_profiles.c.namespace == namespace,
            billing_profiles.c.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        if field:
            raise InvalidInput.on(field, f"no billing profile {profile_id!r}")
        raise NotFound(f"billing profile {profile_id!r} not found")
    return row


def default_profile(uow: UnitOfWork, namespace: str) -> Row[Any]:
    """The namespace's default profile; the first time, a sandbox app and a default profile using it."""
    q = select(billing_profiles).where(
        billing_profiles.c.namespace == namespace,
        billing_profiles.c.is_default.is_(True),
        billing_profiles.c.deleted_at.is_(None),
    )
    row = uow.conn.execute(q).first()
    if row is not None:
        return row
    # Serialize the namespace's set-up so that two first requests make one default.
    insert_ignore(uow.conn, namespaces, {"name": namespace, "created_at": uow.now}, ("name",))
    uow.conn.execute(select(namespaces.c.name).where(namespaces.c.name == namespace).with_for_update())
    row = uow.conn.execute(q).first()
    if row is not None:
        return row
    sandbox = apps.create(uow, namespace, apps.SANDBOX)
    profile_id = _insert(
        uow,
        namespace,
        {"name": "Default", "supplier": {"name": "billhook"}},
        sandbox.id,
        sandbox.id,
        sandbox.id,
        default=True,
    )
    return find(uow, namespace, profile_id)


def _insert(
    uow: UnitOfWork, namespace: str, data: dict[str, Any], tax: str, invoicing: str, payment: str, *, default: bool
) -> str:
    profile_id = new_id()
    uow.conn.execute(
        insert(billing_profiles).values(
            id=profile_id,
            namespace=namespace,
            name=data["name"],
            description=data.get("description"),
            metadata=data.get("metadata"),
            is_default=default,
            supplier=data.get("supplier") or {},
            workflow=merge(DEFAULT_WORKFLOW, validate_workflow(data.get("workflow"))),
            tax_app_id=tax,
            invoicing_app_id=invoicing,
            payment_app_id=payment,
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    return profile_id


def _make_default(uow: UnitOfWork, namespace: str, profile_id: str) -> None:
    uow.conn.execute(
        update(billing_profiles)
        .where(billing_profiles.c.namespace == namespace, billing_profiles.c.id != profile_id)
        .values(is_default=False)
    )


def create(uow: UnitOfWork, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    default_profile(uow, actor.namespace)  # the namespace exists, with its default
    refs = data.get("apps") or {}
    ids = {
        k: apps.find(uow, actor.namespace, refs.get(k) or "", field=f"apps.{k}").id
        for k in ("tax", "invoicing", "payment")
    }
    profile_id = _insert(
        uow, actor.namespace, data, ids["tax"], ids["invoicing"], ids["payment"], default=bool(data.get("default"))
    )
    if data.get("default"):
        _make_default(uow, actor.namespace, profile_id)
    return view(find(uow, actor.namespace, profile_id))


def create_for_app(uow: UnitOfWork, actor: Actor, app: Row[Any]) -> dict[str, Any]:
    """The profile a marketplace install makes: not the default (use customer overrides to pick it)."""
    default_profile(uow, actor.namespace)
    data = {"name": f"{app.name} profile", "supplier": {"name": "billhook"}}
    profile_id = _insert(uow, actor.namespace, data, app.id, app.id, app.id, default=False)
    return view(find(uow, actor.namespace, profile_id))


def replace(uow: UnitOfWork, actor: Actor, profile_id: str, data: dict[str, Any]) -> dict[str, Any]:
    row = find(uow, actor.namespace, profile_id)
    if row.is_default and data.get("default") is False:
        raise Conflict("a namespace always has a default profile: make another one the default", code="default_profile")
    values = {
        "name": data["name"],
        "description": data.get("description"),
        "metadata": data.get("metadata"),
        "supplier": data.get("supplier") or {},
        "workflow": merge(DEFAULT_WORKFLOW, validate_workflow(data.get("workflow"))),
        "is_default": bool(data.get("default")) or row.is_default,
        "updated_at": uow.now,
    }
    uow.conn.execute(update(billing_profiles).where(billing_profiles.c.id == row.id).values(values))
    if data.get("default"):
        _make_default(uow, actor.namespace, row.id)
    return view(find(uow, actor.namespace, row.id))


def delete(uow: UnitOfWork, actor: Actor, profile_id: str) -> None:
    row = find(uow, actor.namespace, profile_id)
    if row.is_default:
        raise Conflict("the default profile cannot be deleted", code="default_profile")
    pinned = uow.conn.execute(
        select(customer_overrides.c.customer_id).where(customer_overrides.c.billing_profile_id == row.id)
    ).first()
    if pinned is not None:
        raise Conflict(f"customer {pinned.customer_id} is pinned to this profile", code="profile_in_use")
    uow.conn.execute(
        update(billing_profiles).where(billing_profiles.c.id == row.id).values(deleted_at=uow.now, updated_at=uow.now)
    )


def get(uow: UnitOfWork, namespace: str, profile_id: str) -> dict[str, Any]:
    return view(find(uow, namespace, profile_id))


def list_(uow: UnitOfWork, namespace: str, page: Page, *, include_archived: bool = False) -> dict[str, Any]:
    default_profile(uow, namespace)
    q = select(billing_profiles).where(billing_profiles.c.namespace == namespace)
    if not include_archived:
        q = q.where(billing_profiles.c.deleted_at.is_(None))
    return paginate(uow, q.order_by(billing_profiles.c.id), page, view)


@dataclass(frozen=True)
class InForce:
    """What bills a customer now: the profile, its apps, and the workflow merged with the override."""

    profile: Row[Any]
    workflow: dict[str, Any]
    override: Row[Any] | None


def in_force(uow: UnitOfWork, namespace: str, customer_id: str) -> InForce:
    prefetched = uow.memo.get(("in_force", customer_id))
    if prefetched is not None:
        return prefetched  # type: ignore[return-value]
    override = uow.conn.execute(
        select(customer_overrides).where(customer_overrides.c.customer_id == customer_id)
    ).first()
    profile = None
    if override is not None and override.billing_profile_id:
        profile = uow.conn.execute(
            select(billing_profiles).where(
                billing_profiles.c.id == override.billing_profile_id, billing_profiles.c.deleted_at.is_(None)
            )
        ).first()
    return _in_force(profile or default_profile(uow, namespace), override)


def _in_force(profile: Row[Any], override: Row[Any] | None) -> InForce:
    return InForce(profile, merge(profile.workflow, override.workflow if override is not None else None), override)


def prefetch_in_force(uow: UnitOfWork, namespace: str, customer_ids: Collection[str]) -> None:
    """What ``in_force`` answers for each of these customers, read with a few statements for all of them
    and kept for the rest of the transaction (the worker's chunks: nothing in them changes profiles)."""
    if not customer_ids:
        return
    overrides = {
        r.customer_id: r
        for r in uow.conn.execute(
            select(customer_overrides).where(among(uow.conn, customer_overrides.c.customer_id, customer_ids))
        )
    }
    wanted = {o.billing_profile_id for o in overrides.values() if o.billing_profile_id}
    chosen = {
        r.id: r
        for r in (
            uow.conn.execute(
                select(billing_profiles).where(
                    among(uow.conn, billing_profiles.c.id, wanted), billing_profiles.c.deleted_at.is_(None)
                )
            )
            if wanted
            else []
        )
    }
    fallback: Row[Any] | None = None
    plain: dict[str, InForce] = {}  # a profile's own workflow, the same for every customer without an override
    for customer_id in customer_ids:
        override = overrides.get(customer_id)
        profile = chosen.get(override.billing_profile_id) if override is not None else None
        if profile is None:
            fallback = fallback or default_profile(uow, namespace)
            profile = fallback
        if override is None:
            force = plain.get(profile.id) or plain.setdefault(profile.id, _in_force(profile, None))
        else:
            force = _in_force(profile, override)
        uow.memo[("in_force", customer_id)] = force
