"""Price models: flat, unit, tiered (graduated and volume) and package.

Prices are frozen dataclasses built from their wire shape (OpenMeter's price union). ``amount_for``
returns the exact, unrounded amount; the caller rounds once per line with ``money.round_money``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, localcontext
from typing import Any, Literal

from billhook.domain.money import PRICE_PLACES, QUANTITY_PLACES, WIDE, ZERO, MoneyError, fmt, parse_decimal

PaymentTerm = Literal["in_advance", "in_arrears"]
TierMode = Literal["graduated", "volume"]


class PriceError(ValueError):
    """A price definition that cannot be used; ``field`` is the path inside the price."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None
    flat: Decimal | None
    unit: Decimal | None


@dataclass(frozen=True)
class Price:
    type: Literal["flat", "unit", "tiered", "package"]
    amount: Decimal = ZERO
    payment_term: PaymentTerm = "in_arrears"
    mode: TierMode | None = None
    tiers: tuple[Tier, ...] = ()
    quantity_per_package: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def amount_for(self, quantity: Decimal) -> Decimal:
        """Exact amount for a billable quantity (already net of any included quantity)."""
        if quantity < 0:
            raise ValueError("quantity must not be negative")
        with localcontext(WIDE):
            raw = self._raw(quantity)
        if self.minimum is not None and raw < self.minimum:
            raw = self.minimum
        if self.maximum is not None and raw > self.maximum:
            raw = self.maximum
        return raw

    def _raw(self, quantity: Decimal) -> Decimal:
        if self.type == "flat":
            return self.amount if quantity > 0 else ZERO
        if self.type == "unit":
            return quantity * self.amount
        if self.type == "package":
            assert self.quantity_per_package is not None
            packages = (quantity / self.quantity_per_package).to_integral_value(rounding=ROUND_CEILING)
            return packages * self.amount
        if quantity == 0:
            return ZERO
        if self.mode == "volume":
            return _volume(self.tiers, quantity)
        return _graduated(self.tiers, quantity)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "flat":
            out |= {"amount": fmt(self.amount), "paymentTerm": self.payment_term}
        elif self.type == "unit":
            out["amount"] = fmt(self.amount)
        elif self.type == "package":
            assert self.quantity_per_package is not None
            out |= {"amount": fmt(self.amount), "quantityPerPackage": fmt(self.quantity_per_package)}
        else:
            out["mode"] = self.mode
            out["tiers"] = [_tier_wire(t) for t in self.tiers]
        if self.minimum is not None:
            out["minimumAmount"] = fmt(self.minimum)
        if self.maximum is not None:
            out["maximumAmount"] = fmt(self.maximum)
        return out


def _tier_wire(tier: Tier) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if tier.up_to is not None:
        out["upToAmount"] = fmt(tier.up_to)
    if tier.flat is not None:
        out["flatPrice"] = {"type": "flat", "amount": fmt(tier.flat)}
    if tier.unit is not None:
        out["unitPrice"] = {"type": "unit", "amount": fmt(tier.unit)}
    return out


def _graduated(tiers: Sequence[Tier], quantity: Decimal) -> Decimal:
    total = ZERO
    lower = ZERO
    for tier in tiers:
        if quantity <= lower:
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        in_tier = upper - lower
        if in_tier > 0:
            total += in_tier * (tier.unit or ZERO) + (tier.flat or ZERO)
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total


def _volume(tiers: Sequence[Tier], quantity: Decimal) -> Decimal:
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            return quantity * (tier.unit or ZERO) + (tier.flat or ZERO)
    raise AssertionError("the last tier is open-ended")  # guaranteed by parse_price


def _dec(raw: Mapping[str, Any], key: str, path: str, *, places: int = PRICE_PLACES) -> Decimal:
    if key not in raw or raw[key] is None:
        raise PriceError(f"{path}.{key}", "is required")
    try:
        return parse_decimal(raw[key], max_places=places)
    except MoneyError as exc:
        raise PriceError(f"{path}.{key}", str(exc)) from exc


def _opt_dec(raw: Mapping[str, Any], key: str, path: str) -> Decimal | None:
    return None if raw.get(key) is None else _dec(raw, key, path)


def _nested_amount(raw: Mapping[str, Any], key: str, path: str) -> Decimal | None:
    inner = raw.get(key)
    if inner is None:
        return None
    if not isinstance(inner, Mapping):
        raise PriceError(f"{path}.{key}", "must be an object with an amount")
    return _dec(inner, "amount", f"{path}.{key}")


def parse_price(raw: Mapping[str, Any], path: str = "price", *, allowed: Sequence[str] = ()) -> Price:
    """Build a Price from its wire shape, raising PriceError naming the bad field."""
    if not isinstance(raw, Mapping):
        raise PriceError(path, "must be an object")
    kind = raw.get("type")
    if kind not in ("flat", "unit", "tiered", "package"):
        raise PriceError(f"{path}.type", "must be one of flat, unit, tiered, package")
    if allowed and kind not in allowed:
        raise PriceError(f"{path}.type", f"must be one of {', '.join(allowed)} here")
    minimum = _opt_dec(raw, "minimumAmount", path)
    maximum = _opt_dec(raw, "maximumAmount", path)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise PriceError(f"{path}.minimumAmount", "must not exceed maximumAmount")
    if kind == "flat":
        term = raw.get("paymentTerm") or "in_advance"
        if term == "in_advance":
            return Price("flat", amount=_dec(raw, "amount", path), payment_term="in_advance")
        if term == "in_arrears":
            return Price("flat", amount=_dec(raw, "amount", path), payment_term="in_arrears")
        raise PriceError(f"{path}.paymentTerm", "must be in_advance or in_arrears")
    if kind == "unit":
        return Price("unit", amount=_dec(raw, "amount", path), minimum=minimum, maximum=maximum)
    if kind == "package":
        per = _dec(raw, "quantityPerPackage", path, places=QUANTITY_PLACES)
        if per <= 0:
            raise PriceError(f"{path}.quantityPerPackage", "must be greater than zero")
        return Price(
            "package",
            amount=_dec(raw, "amount", path),
            quantity_per_package=per,
            minimum=minimum,
            maximum=maximum,
        )
    mode = raw.get("mode")
    if mode not in ("graduated", "volume"):
        raise PriceError(f"{path}.mode", "must be graduated or volume")
    raw_tiers = raw.get("tiers")
    if not isinstance(raw_tiers, list) or not raw_tiers:
        raise PriceError(f"{path}.tiers", "must be a non-empty list")
    if len(raw_tiers) > 100:
        raise PriceError(f"{path}.tiers", "at most 100 tiers")
    tiers: list[Tier] = []
    previous = ZERO
    for i, raw_tier in enumerate(raw_tiers):
        tpath = f"{path}.tiers[{i}]"
        if not isinstance(raw_tier, Mapping):
            raise PriceError(tpath, "must be an object")
        up_to = None
        if raw_tier.get("upToAmount") is not None:
            up_to = _dec(raw_tier, "upToAmount", tpath, places=QUANTITY_PLACES)
            if up_to <= previous:
                raise PriceError(f"{tpath}.upToAmount", "must be greater than the previous tier's")
            previous = up_to
        elif i != len(raw_tiers) - 1:
            raise PriceError(f"{tpath}.upToAmount", "only the last tier may be open-ended")
        flat = _nested_amount(raw_tier, "flatPrice", tpath)
        unit = _nested_amount(raw_tier, "unitPrice", tpath)
        if flat is None and unit is None:
            raise PriceError(tpath, "needs a flatPrice or a unitPrice")
        tiers.append(Tier(up_to, flat, unit))
    if tiers[-1].up_to is not None:
        raise PriceError(f"{path}.tiers[{len(tiers) - 1}].upToAmount", "the last tier must be open-ended")
    return Price("tiered", mode=mode, tiers=tuple(tiers), minimum=minimum, maximum=maximum)
