"""Final invoice numbers: a gap-free sequence per scope (a billing profile), taken under lock."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import bindparam, select, update

from billhook.ids import new_id
from billhook.store.buffer import Held
from billhook.store.schema import billing_profiles, events, invoices, number_sequences, webhook_deliveries
from billhook.store.sql import insert_ignore
from billhook.store.uow import UnitOfWork

# What next_number makes: INV-000001, or INV-<profile ULID>-000001. Nobody else may take such a number,
# or the sequence would one day run into it and could not issue any more.
# A placeholder (see ``defer``) is reserved too.
RESERVED = re.compile(r"INV-(?:[0-9A-HJKMNP-TV-Z]{26}-)?[0-9]{6,}|NUMBERING-.*")


def _scoped_prefix(uow: UnitOfWork, namespace: str, scope: str, prefix: str) -> str:
    """Numbers are unique in the namespace, so each profile's sequence needs its own prefix.

    The namespace's first profile (its original default) keeps the bare prefix (``INV-000001``);
    any other profile's numbers carry its id (``INV-<profile id>-000001``).
    """
    key = ("first_profile", namespace)
    first = uow.memo.get(key)
    if first is None:  # once there is one, the namespace's first profile stays the first
        first = uow.memo[key] = uow.conn.execute(
            select(billing_profiles.c.id)
            .where(billing_profiles.c.namespace == namespace)
            .order_by(billing_profiles.c.created_at, billing_profiles.c.id)
            .limit(1)
        ).scalar()
    return prefix if scope in ("default", first) else f"{prefix}-{scope}"


DEFERRED = "NUMBERING-"  # + a ULID: where a deferred number stands until the commit gives the real one
_PENDING = "deferred_numbers"


def defer(uow: UnitOfWork) -> None:
    """Give this transaction's invoices their numbers just before it commits, not as they are issued.

    A number locks its sequence until the transaction ends; taken at the commit, the lock lasts a
    moment instead of the whole transaction, so two workers issuing at once do not wait for each other.
    The buffered writes that need no number are sent before it is taken (``_write_what_needs_no_number``):
    the lock then covers only the invoices' updates, the events that show a number, and the commit.
    Until then an issued invoice carries a placeholder, in its row and in the events buffered for it;
    the commit replaces both. Events that show a placeholder stay buffered when the transaction reads
    other tables (which sends the buffer); should something read the events themselves, the numbers
    are taken then, and the ones after them at once, as without deferring: no placeholder is ever
    written into an event.
    """
    uow.memo[_PENDING] = []
    uow.before_commit(lambda: _write_what_needs_no_number(uow))
    uow.before_commit(lambda: _resolve(uow))
    uow.buffer.hold_back({events.name, webhook_deliveries.name}, lambda: _waiting_for_numbers(uow))
    uow.buffer.before_flush(lambda: _before_events_are_written(uow))


def _placeholders(uow: UnitOfWork) -> set[str]:
    """The placeholders the buffered events may still show."""
    return {placeholder for *_, placeholder in uow.memo.get(_PENDING) or ()}  # type: ignore[attr-defined]


def _before_events_are_written(uow: UnitOfWork) -> None:
    # rows of invoices may go with a placeholder (``_resolve`` renumbers them); events may not
    placeholders = _placeholders(uow)
    if placeholders and any(_mentions(row["data"], placeholders) for row in uow.buffer.pending(events)):
        _resolve(uow)


def _waiting_for_numbers(uow: UnitOfWork) -> Held | None:
    """What waits for the numbers: the buffered events that show a placeholder, and their deliveries
    (None while no number is pending)."""
    placeholders = _placeholders(uow)
    if not placeholders:
        return None
    waiting = {row["id"] for row in uow.buffer.pending(events) if _mentions(row["data"], placeholders)}

    def held(table: Any, row: dict[str, Any]) -> bool:
        if table is events:
            return row["id"] in waiting
        return table is webhook_deliveries and row["event_id"] in waiting

    return held


def _write_what_needs_no_number(uow: UnitOfWork) -> None:
    """Before the numbers are taken, send every buffered write that does not wait for them: the lock
    on the sequence is then held while the rest is sent (the invoices' updates, the events that show
    a number, their deliveries) and the commit, not while the whole transaction's rows are."""
    held = _waiting_for_numbers(uow)
    if held is not None:
        uow.buffer.flush_all_but(held, {invoices.name})


def _mentions(view: Any, placeholders: set[str]) -> bool:
    """Whether an event's data shows one of the placeholders (as the invoice's number, or as that of
    the invoice it carries under ``invoice``)."""
    if not isinstance(view, dict):
        return False
    return view.get("number") in placeholders or _mentions(view.get("invoice"), placeholders)


def _resolve(uow: UnitOfWork) -> None:
    pending: list[tuple[str, str, str, str]] = uow.memo.pop(_PENDING, None) or []  # type: ignore[assignment]
    if not pending:
        return
    # Taking the numbers touches no buffered table; the buffered events are amended before the UPDATE
    # below, whose table is buffered, sends the buffer (nothing would hold them back any more).
    final = {placeholder: next_number(uow, ns, scope, prefix) for ns, scope, prefix, placeholder in pending}
    left = dict.fromkeys(final)
    for params in uow.buffer.pending_updates(invoices):  # not sent yet (write-behind): amend them
        if params.get("number") in final:
            left.pop(params["number"], None)
            params["number"] = final[params["number"]]
    seen: set[int] = set()  # an invoice's events share their rendered lines: each is amended once
    for row in uow.buffer.pending(events):
        _renumber(row["data"], final, seen)
    sent = [(ns, placeholder) for ns, _, _, placeholder in pending if placeholder in left]
    if sent:  # rows sent with their placeholder (something read the invoices before the commit)
        uow.conn.execute(
            update(invoices).where(invoices.c.namespace == bindparam("_ns"), invoices.c.number == bindparam("_old")),
            [{"_ns": ns, "_old": placeholder, "number": final[placeholder]} for ns, placeholder in sent],
        )


def _renumber(view: Any, final: dict[str, str], seen: set[int]) -> None:
    """Put the real numbers in an invoice view (its own and each line's ``invoice.number``), or in the
    invoice view an event carries under ``invoice``."""
    if not isinstance(view, dict) or id(view) in seen:
        return
    seen.add(id(view))
    if isinstance(view.get("number"), str) and view["number"] in final:
        view["number"] = final[view["number"]]
    for line in view.get("lines") or ():
        ref = line.get("invoice") if isinstance(line, dict) else None
        if isinstance(ref, dict) and id(ref) not in seen and ref.get("number") in final:
            seen.add(id(ref))
            ref["number"] = final[ref["number"]]
    _renumber(view.get("invoice"), final, seen)


def next_number(uow: UnitOfWork, namespace: str, scope: str, prefix: str = "INV") -> str:
    """Take the next number (or, in a transaction that defers them, a placeholder: see ``defer``).

    The first one a transaction takes locks the sequence's row until the transaction ends, so none is
    skipped; the ones after it are counted in memory, and the row gets the final count just before
    the commit (one statement for a whole chunk of invoices)."""
    pending = uow.memo.get(_PENDING)
    if pending is not None:
        placeholder = f"{DEFERRED}{new_id()}"
        pending.append((namespace, scope, prefix, placeholder))  # type: ignore[attr-defined]
        return placeholder
    counter = uow.memo.get(("numbers", namespace, scope))
    if counter is None:
        counter = uow.memo[("numbers", namespace, scope)] = _Counter(_lock_and_take(uow, namespace, scope))
        uow.before_commit(lambda: _store(uow, namespace, scope, counter))
    assert isinstance(counter, _Counter)
    current = counter.take()
    return f"{_scoped_prefix(uow, namespace, scope, prefix)}-{current:06d}"


class _Counter:
    def __init__(self, first: int) -> None:
        self.first = first
        self.next = first

    def take(self) -> int:
        self.next += 1
        return self.next - 1


def _where(namespace: str, scope: str) -> Any:
    return (number_sequences.c.namespace == namespace) & (number_sequences.c.scope == scope)


def _lock_and_take(uow: UnitOfWork, namespace: str, scope: str) -> int:
    """The next free number, its row locked until the transaction ends."""
    lock = select(number_sequences.c.next_value).where(_where(namespace, scope)).with_for_update()
    free = uow.conn.execute(lock).scalar()
    if free is None:  # the scope's first number
        insert_ignore(
            uow.conn,
            number_sequences,
            {"namespace": namespace, "scope": scope, "next_value": 1},
            ("namespace", "scope"),
        )
        free = uow.conn.execute(lock).scalar_one()
    return int(free)


def _store(uow: UnitOfWork, namespace: str, scope: str, counter: _Counter) -> None:
    if counter.next != counter.first:
        uow.conn.execute(update(number_sequences).where(_where(namespace, scope)).values(next_value=counter.next))
