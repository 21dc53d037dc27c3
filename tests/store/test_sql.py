"""``among``: the rows IN would select, on either backend, however many values (none, one, a chunk's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billhook.services import customers
from billhook.services.common import Actor
from billhook.store.schema import customers as customers_t
from billhook.store.sql import among


def test_among_selects_what_in_selects_for_any_number_of_values(runtime: Any) -> None:
    actor = Actor("default", "test")
    with runtime.uows.write() as uow:
        ids = [customers.create(uow, actor, {"key": f"c{i:03d}", "name": f"C {i}"})["id"] for i in range(150)]
    missing = "01J0000000000000000000NONE"
    asked: list[list[str]] = [[], [ids[7]], ids[:100], [*ids[40:], missing], [missing]]
    with runtime.uows.write() as uow:
        for values in asked:
            statement = select(customers_t.c.id).where(among(uow.conn, customers_t.c.id, values))
            expected = select(customers_t.c.id).where(customers_t.c.id.in_(values))
            found = sorted(uow.conn.execute(statement).scalars())
            assert found == sorted(uow.conn.execute(expected).scalars())
            assert found == sorted(set(values) - {missing})
        a_set = set(ids[:3])  # as some callers pass
        found = uow.conn.execute(select(customers_t.c.id).where(among(uow.conn, customers_t.c.id, a_set))).scalars()
        assert sorted(found) == sorted(a_set)
