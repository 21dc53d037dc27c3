"""From a subscription period to invoice lines and totals: small pure steps.

Recurring charges in advance are billed on the invoice that opens their period (prorated when
the period is shorter than a full cadence); recurring charges in arrears, tracked items (the
quantity above what is included) and custom charges and credits on the invoice that closes it.
Every line is rounded once, half-even to the currency's minor unit; totals are sums of rounded
lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Literal

from billhook.domain.catalog import CustomCharge, PlanRules, TrackedItem
from billhook.domain.money import WIDE, ZERO, round_money
from billhook.domain.periods import Period
from billhook.domain.pricing import Price

# advance: a recurring charge for the period the invoice opens; arrears: for the period it closes
LineKind = Literal["advance", "arrears", "usage", "custom", "manual"]


@dataclass(frozen=True)
class LineDraft:
    kind: LineKind
    key: str
    name: str
    period: Period
    invoice_at: datetime
    quantity: Decimal
    amount: Decimal  # rounded to the currency
    price: Price | None = None
    custom_charge_id: str | None = None
    included: Decimal = ZERO

    @property
    def type(self) -> str:
        return "usage_based" if self.kind == "usage" else "flat_fee"


@dataclass(frozen=True)
class Totals:
    amount: Decimal
    charges_total: Decimal
    discounts_total: Decimal
    credits_total: Decimal
    taxes_inclusive_total: Decimal
    taxes_exclusive_total: Decimal
    taxes_total: Decimal
    total: Decimal


def proration(period: Period, full: Period) -> Decimal:
    """Share of a full cadence that ``period`` covers (1 for a whole period)."""
    if period == full:
        return Decimal(1)
    with localcontext(WIDE):
        return Decimal(period.seconds()) / Decimal(full.seconds())


def recurring_lines(rules: PlanRules, period: Period, full: Period, term: str) -> list[LineDraft]:
    """The plan's recurring charges with ``paymentTerm == term`` for ``period``, prorated to its share."""
    share = proration(period, full)
    kind: LineKind = "advance" if term == "in_advance" else "arrears"
    lines = []
    for c in rules.charges:
        if c.price.payment_term != term:
            continue
        with localcontext(WIDE):
            amount = round_money(c.price.amount * share, rules.currency)
        lines.append(
            LineDraft(
                kind=kind,
                key=c.key,
                name=c.name,
                period=period,
                invoice_at=period.start if term == "in_advance" else period.end,
                quantity=Decimal(1),
                amount=amount,
                price=c.price,
            )
        )
    return lines


def advance_lines(rules: PlanRules, period: Period, full: Period) -> list[LineDraft]:
    """Recurring charges billed in advance for ``period``, on the invoice that opens it."""
    return recurring_lines(rules, period, full, "in_advance")


def usage_line(item: TrackedItem, quantity: Decimal, period: Period, currency: str) -> LineDraft | None:
    """A tracked item's line for ``period``: what is above the included quantity, priced."""
    if quantity == 0 and item.price.minimum is None:
        return None
    return LineDraft(
        kind="usage",
        key=item.key,
        name=item.name,
        period=period,
        invoice_at=period.end,
        quantity=quantity,
        amount=usage_amount(item.price, quantity, item.included, currency),
        price=item.price,
        included=item.included,
    )


def usage_amount(price: Price, quantity: Decimal, included: Decimal, currency: str) -> Decimal:
    """What a tracked item bills: the quantity above what is included, priced, rounded once."""
    return round_money(price.amount_for(max(ZERO, quantity - included)), currency)


def arrears_lines(
    rules: PlanRules,
    period: Period,
    full: Period,
    quantities: Mapping[str, Decimal],
    custom: Iterable[CustomCharge],
    *,
    trial: bool = False,
) -> list[LineDraft]:
    """What the invoice closing ``period`` bills for it. A trial bills no usage or fees."""
    lines: list[LineDraft] = []
    if not trial:
        lines.extend(recurring_lines(rules, period, full, "in_arrears"))
        for item in rules.items:
            line = usage_line(item, quantities.get(item.key, ZERO), period, rules.currency)
            if line is not None:
                lines.append(line)
    lines.extend(custom_line(c, period, rules.currency) for c in custom)
    return lines


def custom_line(charge: CustomCharge, period: Period, currency: str) -> LineDraft:
    return LineDraft(
        kind="custom",
        key=charge.code,
        name=charge.description or charge.code,
        period=period,
        invoice_at=period.end,
        quantity=Decimal(charge.quantity),
        amount=round_money(charge.each * charge.quantity, currency),
        custom_charge_id=charge.id,
    )


def totals(amounts: Sequence[Decimal], currency: str) -> Totals:
    """Totals of already-rounded line amounts; negative lines are credits."""
    with localcontext(WIDE):  # sums of wide amounts must not round to 28 digits
        charges = sum((a for a in amounts if a > 0), ZERO)
        credits = -sum((a for a in amounts if a < 0), ZERO)
        net = charges - credits
    z = round_money(ZERO, currency)
    return Totals(
        amount=round_money(charges, currency),
        charges_total=z,
        discounts_total=z,
        credits_total=round_money(credits, currency),
        taxes_inclusive_total=z,
        taxes_exclusive_total=z,
        taxes_total=z,
        total=round_money(net, currency),
    )


@dataclass(frozen=True)
class Issue:
    code: str
    severity: Literal["critical", "warning"]
    message: str
    field: str | None = None


def validate(total: Decimal, line_count: int) -> list[Issue]:
    """Validation of a draft before it may be issued."""
    issues: list[Issue] = []
    if total < 0:
        issues.append(
            Issue("negative_total", "critical", "credits exceed charges: the invoice total is negative", "totals.total")
        )
    if line_count == 0:
        issues.append(Issue("no_lines", "critical", "the invoice has no lines", "lines"))
    return issues


def manual_amount(price: Price, quantity: Decimal, currency: str) -> Decimal:
    """A hand-made line (pending line, or a line of an edited draft): a flat price is per unit."""
    if price.type == "flat":
        with localcontext(WIDE):
            return round_money(price.amount * quantity, currency)
    return round_money(price.amount_for(quantity), currency)
