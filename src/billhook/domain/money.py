"""Money and quantities: Decimal only, rounding in one place.

Currency minor units come from the ISO 4217 table of the ``iso4217`` package.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import cache

import iso4217

QUANTITY_PLACES = 4
PRICE_PLACES = 8
ZERO = Decimal("0")
# Wide enough for the largest price × quantity billhook accepts; the default 28 digits is not.
WIDE = Context(prec=80)
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


class MoneyError(ValueError):
    """A currency, amount or quantity that billhook cannot accept."""


@cache
def minor_units(currency: str) -> int:
    """Number of decimal places of ``currency`` (EUR 2, JPY 0, KWD 3)."""
    try:
        cur = iso4217.Currency(currency)
    except (ValueError, KeyError) as exc:
        raise MoneyError(f"unknown ISO 4217 currency code {currency!r}") from exc
    exponent = cur.exponent
    if exponent is None:  # funds and metals (XAU, XDR…) are not billable currencies
        raise MoneyError(f"{currency!r} is not a currency that can be invoiced")
    return int(exponent)


def is_currency(code: str) -> bool:
    try:
        minor_units(code)
    except MoneyError:
        return False
    return True


@cache
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The one place where amounts are rounded: half-even to the currency's minor unit."""
    # A context wide enough for the largest amount billhook accepts: the default 28 digits would
    # make quantize raise InvalidOperation on a large price times a large quantity.
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN, context=WIDE)


def places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise MoneyError("not a finite number")
    return max(0, -exponent)


def parse_decimal(raw: object, *, max_places: int, allow_negative: bool = False) -> Decimal:
    """Parse a decimal string (or int) strictly; floats are refused."""
    if isinstance(raw, bool) or isinstance(raw, float):
        raise MoneyError("must be a decimal string, not a float")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int | str):
        text = str(raw).strip()
        if not _DECIMAL.fullmatch(text):
            raise MoneyError(f"{raw!r} is not a decimal number such as 12.50")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"{raw!r} is not a decimal number") from exc
    else:
        raise MoneyError("must be a decimal string")
    if not value.is_finite():
        raise MoneyError("must be a finite number")
    if places(value) > max_places:
        raise MoneyError(f"at most {max_places} decimal places")
    if value < 0 and not allow_negative:
        raise MoneyError("must not be negative")
    if abs(value) >= Decimal("1e18"):
        raise MoneyError("is too large")
    return value.normalize() if value != 0 else ZERO


def fmt(value: Decimal) -> str:
    """Decimal to its wire string without exponent notation."""
    return format(value, "f")


def money_str(amount: Decimal, currency: str) -> str:
    return fmt(round_money(amount, currency))
