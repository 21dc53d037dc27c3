"""Bulk inserts (COPY on PostgreSQL) store exactly what an ordinary INSERT stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from billhook.ids import new_id
from billhook.store.bulk import COPY_FROM, insert_rows
from billhook.store.schema import invoice_lines, invoices
from tests.e2e.support import fleet

AWKWARD = ["plain", "tab\there", "new\nline", "back\\slash", 'quote"s', "naïve € 💶", "\\N", ""]
SHARED = {"type": "unit", "amount": "9.99", "note": AWKWARD[5], "nested": {"n": [1, None]}}  # one object, many rows


def _line(invoice_id: str, i: int) -> dict[str, Any]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    return {
        "id": new_id(),
        "namespace": "default",
        "invoice_id": invoice_id,
        "position": i,
        "kind": "usage",
        "managed_by": "subscription",
        "key": AWKWARD[i % len(AWKWARD)],
        "name": f"line {i} {AWKWARD[(i + 3) % len(AWKWARD)]}",
        "description": None if i % 2 else AWKWARD[i % len(AWKWARD)],
        "period_start": start,
        "period_end": start + timedelta(days=31),
        "invoice_at": start.astimezone(UTC),
        "price": None
        if i % 3 == 0
        else SHARED
        if i % 3 == 1
        else {"type": "unit", "amount": f"0.{i:03d}", "note": AWKWARD[i % 8], "n": [i, None]},
        "quantity": Decimal("1234.5678") + i,
        "included": Decimal("0"),
        "amount": Decimal("-0.01") * i,
        "custom_charge_id": None,
        "metadata": {"k": AWKWARD[i % 8]} if i % 4 == 0 else None,
        "external_invoicing_id": None,
        "created_at": start,
        "updated_at": start,
    }


def test_bulk_rows_read_back_as_inserted_and_as_an_ordinary_insert_stores_them(db_url: str) -> None:
    f = fleet(db_url, 2)
    try:
        with f.runtime.uows(readonly=True) as uow:
            first, second = uow.conn.execute(select(invoices.c.id).order_by(invoices.c.id).limit(2)).scalars()
        n = COPY_FROM * 3
        bulk = [_line(first, i) for i in range(n)]
        plain = [_line(second, i) for i in range(n)]
        with f.runtime.uows.write() as uow:
            insert_rows(uow.conn, invoice_lines, bulk)
            uow.conn.execute(insert(invoice_lines), plain)
        with f.runtime.uows(readonly=True) as uow:
            q = select(invoice_lines).order_by(invoice_lines.c.position)
            got_bulk = [dict(r._mapping) for r in uow.conn.execute(q.where(invoice_lines.c.invoice_id == first))]
            got_plain = [dict(r._mapping) for r in uow.conn.execute(q.where(invoice_lines.c.invoice_id == second))]
            null_price = {
                r.invoice_id: r.n
                for r in uow.conn.execute(
                    select(invoice_lines.c.invoice_id, (invoice_lines.c.price.is_(None)).label("n")).where(
                        invoice_lines.c.position == 0
                    )
                )
            }
    finally:
        f.runtime.close()
    assert got_bulk == bulk
    assert [{**r, "id": None, "invoice_id": None} for r in got_bulk] == [
        {**r, "id": None, "invoice_id": None} for r in got_plain
    ]
    assert null_price[first] == null_price[second]  # a None in a JSON column is stored the same way
