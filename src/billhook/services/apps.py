"""Apps from the marketplace: the sandbox, and custom invoicing (an external system steers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update

from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.ids import new_id
from billhook.services.common import Actor, Page, iso, paginate
from billhook.store.schema import apps, billing_profiles, invoices
from billhook.store.uow import UnitOfWork

SANDBOX = "sandbox"
CUSTOM_INVOICING = "custom_invoicing"
CAPABILITY_TYPES = ("calculateTax", "invoiceCustomers", "collectPayments")

_CAPABILITIES = [
    {"type": "calculateTax", "key": "tax", "name": "Tax", "description": "Calculates taxes on invoices"},
    {"type": "invoiceCustomers", "key": "invoicing", "name": "Invoicing", "description": "Numbers and sends invoices"},
    {"type": "collectPayments", "key": "payment", "name": "Payments", "description": "Collects payment of invoices"},
]

LISTINGS: dict[str, dict[str, Any]] = {
    SANDBOX: {
        "type": SANDBOX,
        "name": "Sandbox",
        "description": "Issues and settles every invoice by itself: for development and tests.",
        "capabilities": _CAPABILITIES,
        "installMethods": ["no_credentials_required"],
    },
    CUSTOM_INVOICING: {
        "type": CUSTOM_INVOICING,
        "name": "Custom Invoicing",
        "description": (
            "Your own invoicing system owns numbering, sending and payment: invoices wait for its "
            "draft and issuing sync results (when those hooks are on) and for its payment status."
        ),
        "capabilities": _CAPABILITIES,
        "installMethods": ["no_credentials_required"],
    },
}


def view(row: Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "type": row.type,
        "name": row.name,
        "description": row.description,
        "metadata": row.metadata or {},
        "status": "ready",
        "listing": LISTINGS[row.type],
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
    if row.deleted_at is not None:
        out["deletedAt"] = iso(row.deleted_at)
    if row.type == CUSTOM_INVOICING:
        out["enableDraftSyncHook"] = row.enable_draft_sync_hook
        out["enableIssuingSyncHook"] = row.enable_issuing_sync_hook
    return out


def listing(app_type: str) -> dict[str, Any]:
    if app_type not in LISTINGS:
        raise NotFound(f"no marketplace listing {app_type!r}; available: {', '.join(LISTINGS)}")
    return LISTINGS[app_type]


def list_listings(page: Page) -> dict[str, Any]:
    items = list(LISTINGS.values())
    start = (page.page - 1) * page.page_size
    return {
        "items": items[start : start + page.page_size],
        "page": page.page,
        "pageSize": page.page_size,
        "totalCount": len(items),
    }


def find(uow: UnitOfWork, namespace: str, app_id: str, *, field: str | None = None) -> Row[Any]:
    row = uow.conn.execute(
        select(apps).where(apps.c.id == app_id, apps.c.namespace == namespace, apps.c.deleted_at.is_(None))
    ).first()
    if row is None:
        if field:
            raise InvalidInput.on(field, f"no installed app {app_id!r}")
        raise NotFound(f"app {app_id!r} not found")
    return row


def load(uow: UnitOfWork, app_id: str | None) -> Row[Any] | None:
    """An app by id (deleted ones too: invoices keep theirs), read once per transaction."""
    if app_id is None:
        return None
    key = ("app", app_id)
    if key not in uow.memo:
        uow.memo[key] = uow.conn.execute(select(apps).where(apps.c.id == app_id)).first()
    return uow.memo[key]  # type: ignore[return-value]


def create(uow: UnitOfWork, namespace: str, app_type: str, name: str | None = None) -> Row[Any]:
    app_id = new_id()
    uow.conn.execute(
        insert(apps).values(
            id=app_id,
            namespace=namespace,
            type=app_type,
            name=name or listing(app_type)["name"],
            enable_draft_sync_hook=False,  # start with both hooks off; enable them as the integration matures
            enable_issuing_sync_hook=False,
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    return find(uow, namespace, app_id)


def get(uow: UnitOfWork, namespace: str, app_id: str) -> dict[str, Any]:
    return view(find(uow, namespace, app_id))


def list_(uow: UnitOfWork, namespace: str, page: Page) -> dict[str, Any]:
    q = select(apps).where(apps.c.namespace == namespace, apps.c.deleted_at.is_(None)).order_by(apps.c.id)
    return paginate(uow, q, page, view)


def replace(uow: UnitOfWork, actor: Actor, app_id: str, data: dict[str, Any]) -> dict[str, Any]:
    row = find(uow, actor.namespace, app_id)
    if data.get("type") not in (None, row.type):
        raise InvalidInput.on("type", f"the app is a {row.type} app")
    values: dict[str, Any] = {
        "name": data["name"],
        "description": data.get("description"),
        "metadata": data.get("metadata"),
        "updated_at": uow.now,
    }
    if row.type == CUSTOM_INVOICING:
        for wire, column in (
            ("enableDraftSyncHook", "enable_draft_sync_hook"),
            ("enableIssuingSyncHook", "enable_issuing_sync_hook"),
        ):
            if data.get(wire) is not None:
                values[column] = bool(data[wire])
    uow.conn.execute(update(apps).where(apps.c.id == row.id).values(values))
    uow.memo.pop(("app", row.id), None)
    released = [
        state
        for column, state in (
            ("enable_draft_sync_hook", "draft.syncing"),
            ("enable_issuing_sync_hook", "issuing.syncing"),
        )
        if getattr(row, column) and values.get(column) is False
    ]
    if released:
        # A hook switched off no longer holds its invoices: the worker moves them on at its next look.
        uow.conn.execute(
            update(invoices)
            .where(invoices.c.invoicing_app_id == row.id, invoices.c.extended_status.in_(released))
            .values(next_action_at=uow.now)
        )
    return view(find(uow, actor.namespace, row.id))


def uninstall(uow: UnitOfWork, actor: Actor, app_id: str) -> None:
    row = find(uow, actor.namespace, app_id)
    used = uow.conn.execute(
        select(billing_profiles.c.id).where(
            billing_profiles.c.deleted_at.is_(None),
            (billing_profiles.c.tax_app_id == row.id)
            | (billing_profiles.c.invoicing_app_id == row.id)
            | (billing_profiles.c.payment_app_id == row.id),
        )
    ).first()
    if used is not None:
        raise Conflict(f"billing profile {used.id} uses this app; delete or change it first", code="app_in_use")
    uow.conn.execute(update(apps).where(apps.c.id == row.id).values(deleted_at=uow.now, updated_at=uow.now))
