"""Plans as the billing rules see them: recurring charges and tracked items."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from billhook.domain.periods import Duration
from billhook.domain.pricing import Price

UsageType = Literal["metered", "licensed"]


@dataclass(frozen=True)
class RecurringCharge:
    key: str
    name: str
    price: Price  # always flat; paymentTerm says in advance or in arrears


@dataclass(frozen=True)
class TrackedItem:
    key: str
    name: str
    included: Decimal
    usage_type: UsageType
    price: Price


@dataclass(frozen=True)
class PlanRules:
    currency: str
    cadence: Duration
    trial: Duration | None
    charges: tuple[RecurringCharge, ...]
    items: tuple[TrackedItem, ...]

    def item(self, key: str) -> TrackedItem | None:
        return next((i for i in self.items if i.key == key), None)


@dataclass(frozen=True)
class CustomCharge:
    id: str
    code: str
    quantity: int
    each: Decimal
    description: str | None
