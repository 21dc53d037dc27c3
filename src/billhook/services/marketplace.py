"""Installing an app from the marketplace, optionally with a billing profile that uses it."""

from __future__ import annotations

from typing import Any

from billhook.services import apps, profiles
from billhook.services.common import Actor
from billhook.store.uow import UnitOfWork


def install(uow: UnitOfWork, actor: Actor, app_type: str, data: dict[str, Any]) -> dict[str, Any]:
    apps.listing(app_type)
    app = apps.create(uow, actor.namespace, app_type, data.get("name"))
    default_for: list[str] = []
    if data.get("createBillingProfile"):
        profile = profiles.create_for_app(uow, actor, app)
        if profile["default"]:
            default_for = list(apps.CAPABILITY_TYPES)
    return {"app": apps.view(app), "defaultForCapabilityTypes": default_for}
