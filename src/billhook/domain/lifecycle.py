"""The invoice lifecycle: one table of ``(from, trigger, guard) -> to``.

Everything that moves an invoice (the worker, the API, the dashboard, ``availableActions``) asks
this table. Guards read a frozen ``Facts`` snapshot that the service layer builds from stored
data; nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class S(StrEnum):
    """Every ``extendedStatus``."""

    GATHERING = "gathering"
    DRAFT_CREATED = "draft.created"
    DRAFT_OUTSTANDING = "draft.outstanding"
    DRAFT_VALIDATING = "draft.validating"
    DRAFT_INVALID = "draft.invalid"
    DRAFT_SYNCING = "draft.syncing"
    DRAFT_WAITING_AUTO_APPROVAL = "draft.waiting_auto_approval"
    DRAFT_MANUAL_APPROVAL_NEEDED = "draft.manual_approval_needed"
    DRAFT_READY_TO_ISSUE = "draft.ready_to_issue"
    ISSUING_SYNCING = "issuing.syncing"
    ISSUING_FAILED = "issuing.failed"
    ISSUED = "issued"
    PAYMENT_PENDING = "payment_processing.pending"
    PAYMENT_FAILED = "payment_processing.failed"
    PAYMENT_ACTION_REQUIRED = "payment_processing.action_required"
    OVERDUE = "overdue"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOIDED = "voided"
    DELETED = "deleted"

    @property
    def short(self) -> str:
        """The short ``status`` an API user filters on."""
        return self.value.split(".", 1)[0]


class T(StrEnum):
    """Triggers."""

    NEXT = "next"
    INVOICE = "invoice"  # close a gathering invoice before its period ends ("invoice now")
    ADVANCE = "advance"
    APPROVE = "approve"
    RETRY = "retry"
    UPDATE = "update"
    DELETE = "delete"
    DRAFT_SYNCED = "draft_synced"
    ISSUING_SYNCED = "issuing_synced"
    ISSUING_FAILED = "issuing_failed"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    ACTION_REQUIRED = "action_required"
    PAYMENT_UNCOLLECTIBLE = "payment_uncollectible"
    PAYMENT_OVERDUE = "payment_overdue"
    VOID = "void"


@dataclass(frozen=True)
class Facts:
    """What the guards may know about an invoice at one instant."""

    now: datetime
    period_ended: bool = False
    has_lines: bool = True
    billable_hold_released: bool = True
    older_held: bool = False  # an older invoice of the same subscription waits at hold 1: it runs first
    critical_issues: bool = False
    draft_sync_hook: bool = False
    draft_synced: bool = False
    issuing_sync_hook: bool = False
    auto_advance: bool = True
    draft_until: datetime | None = None
    auto_settle: bool = True
    due_at: datetime | None = None


Guard = Callable[[Facts], bool]


def _always(_: Facts) -> bool:
    return True


@dataclass(frozen=True)
class Transition:
    source: S
    trigger: T
    target: S
    guard: Guard = _always
    why: str = ""
    reset_draft_sync: bool = False


def _closable(f: Facts) -> bool:
    return f.has_lines


def _billable_released(f: Facts) -> bool:
    return f.billable_hold_released


def _first_held(f: Facts) -> bool:
    return not f.older_held


def _valid(f: Facts) -> bool:
    return not f.critical_issues


def _invalid(f: Facts) -> bool:
    return f.critical_issues


def _draft_sync_done_auto(f: Facts) -> bool:
    return (not f.draft_sync_hook or f.draft_synced) and f.auto_advance


def _draft_sync_done_manual(f: Facts) -> bool:
    return (not f.draft_sync_hook or f.draft_synced) and not f.auto_advance


def _draft_period_over(f: Facts) -> bool:
    return f.draft_until is None or f.now >= f.draft_until


def _issuing_hook_off(f: Facts) -> bool:
    return not f.issuing_sync_hook


def _auto_settle(f: Facts) -> bool:
    return f.auto_settle


def _due_passed(f: Facts) -> bool:
    return not f.auto_settle and f.due_at is not None and f.now >= f.due_at


def _auto(f: Facts) -> bool:
    return f.auto_advance


def _manual(f: Facts) -> bool:
    return not f.auto_advance


_EDITABLE_AGAIN = (S.DRAFT_INVALID, S.DRAFT_WAITING_AUTO_APPROVAL, S.DRAFT_MANUAL_APPROVAL_NEEDED)
_DRAFTS = tuple(s for s in S if s.short == "draft")
_PAYMENT = (S.PAYMENT_PENDING, S.PAYMENT_FAILED, S.PAYMENT_ACTION_REQUIRED)

TABLE: tuple[Transition, ...] = (
    # gathering: its period ends (or "invoice now") and it becomes a draft; an empty one is dropped
    Transition(S.GATHERING, T.NEXT, S.DRAFT_CREATED, lambda f: f.period_ended and f.has_lines, "period ended"),
    Transition(S.GATHERING, T.NEXT, S.DELETED, lambda f: f.period_ended and not f.has_lines, "nothing to bill"),
    Transition(S.GATHERING, T.INVOICE, S.DRAFT_CREATED, _closable, "invoice now"),
    Transition(S.GATHERING, T.UPDATE, S.GATHERING),
    Transition(S.GATHERING, T.DELETE, S.DELETED, lambda f: not f.has_lines, "nothing gathered"),
    Transition(S.DRAFT_CREATED, T.NEXT, S.DRAFT_OUTSTANDING),
    # hold 1: the Subscription Billable hook
    Transition(S.DRAFT_OUTSTANDING, T.NEXT, S.DRAFT_VALIDATING, _billable_released, "billable hooks done"),
    Transition(S.DRAFT_OUTSTANDING, T.APPROVE, S.DRAFT_VALIDATING, _first_held, "held invoices run in period order"),
    Transition(S.DRAFT_OUTSTANDING, T.UPDATE, S.DRAFT_OUTSTANDING),
    Transition(S.DRAFT_VALIDATING, T.NEXT, S.DRAFT_SYNCING, _valid, "no critical issue"),
    Transition(S.DRAFT_VALIDATING, T.NEXT, S.DRAFT_INVALID, _invalid, "critical issues"),
    Transition(S.DRAFT_INVALID, T.RETRY, S.DRAFT_VALIDATING),
    # hold 2: the Draft Sync Hook
    Transition(S.DRAFT_SYNCING, T.NEXT, S.DRAFT_WAITING_AUTO_APPROVAL, _draft_sync_done_auto, "draft synced"),
    Transition(S.DRAFT_SYNCING, T.NEXT, S.DRAFT_MANUAL_APPROVAL_NEEDED, _draft_sync_done_manual, "draft synced"),
    Transition(S.DRAFT_SYNCING, T.DRAFT_SYNCED, S.DRAFT_WAITING_AUTO_APPROVAL, _auto),
    Transition(S.DRAFT_SYNCING, T.DRAFT_SYNCED, S.DRAFT_MANUAL_APPROVAL_NEEDED, _manual),
    Transition(S.DRAFT_SYNCING, T.UPDATE, S.DRAFT_SYNCING),
    Transition(S.DRAFT_WAITING_AUTO_APPROVAL, T.NEXT, S.DRAFT_READY_TO_ISSUE, _draft_period_over, "draft period over"),
    Transition(S.DRAFT_WAITING_AUTO_APPROVAL, T.ADVANCE, S.DRAFT_READY_TO_ISSUE),
    Transition(S.DRAFT_WAITING_AUTO_APPROVAL, T.APPROVE, S.DRAFT_READY_TO_ISSUE),
    Transition(S.DRAFT_MANUAL_APPROVAL_NEEDED, T.APPROVE, S.DRAFT_READY_TO_ISSUE),
    *(Transition(s, T.UPDATE, S.DRAFT_VALIDATING, reset_draft_sync=True) for s in _EDITABLE_AGAIN),
    *(Transition(s, T.DELETE, S.DELETED) for s in _DRAFTS),
    Transition(S.DRAFT_READY_TO_ISSUE, T.NEXT, S.ISSUING_SYNCING),
    # hold 3: the Issuing Sync Hook
    Transition(S.ISSUING_SYNCING, T.NEXT, S.ISSUED, _issuing_hook_off, "issuing hook off"),
    Transition(S.ISSUING_SYNCING, T.ISSUING_SYNCED, S.ISSUED),
    Transition(S.ISSUING_SYNCING, T.ISSUING_FAILED, S.ISSUING_FAILED),
    Transition(S.ISSUING_FAILED, T.RETRY, S.ISSUING_SYNCING),
    Transition(S.ISSUED, T.NEXT, S.PAYMENT_PENDING),
    Transition(S.ISSUED, T.VOID, S.VOIDED),
    # hold 4: payment status (the sandbox app settles by itself)
    Transition(S.PAYMENT_PENDING, T.NEXT, S.PAID, _auto_settle, "sandbox settles"),
    *(Transition(s, T.NEXT, S.OVERDUE, _due_passed, "due date passed") for s in _PAYMENT),
    *(Transition(s, T.PAID, S.PAID) for s in _PAYMENT),
    *(Transition(s, T.PAYMENT_FAILED, S.PAYMENT_FAILED) for s in _PAYMENT),
    *(Transition(s, T.ACTION_REQUIRED, S.PAYMENT_ACTION_REQUIRED) for s in _PAYMENT),
    *(Transition(s, T.PAYMENT_UNCOLLECTIBLE, S.UNCOLLECTIBLE) for s in _PAYMENT),
    *(Transition(s, T.PAYMENT_OVERDUE, S.OVERDUE) for s in _PAYMENT),
    *(Transition(s, T.VOID, S.VOIDED) for s in _PAYMENT),
    Transition(S.PAYMENT_FAILED, T.RETRY, S.PAYMENT_PENDING),
    Transition(S.OVERDUE, T.PAID, S.PAID),
    Transition(S.OVERDUE, T.PAYMENT_UNCOLLECTIBLE, S.UNCOLLECTIBLE),
    Transition(S.OVERDUE, T.VOID, S.VOIDED),
    Transition(S.UNCOLLECTIBLE, T.PAID, S.PAID),
    Transition(S.UNCOLLECTIBLE, T.VOID, S.VOIDED),
)

_BY_SOURCE: Mapping[S, tuple[Transition, ...]] = {s: tuple(t for t in TABLE if t.source == s) for s in S}

FINAL = frozenset({S.PAID, S.VOIDED, S.DELETED})
# From issued on, lines, amounts and number never change.
IMMUTABLE = frozenset(s for s in S if s.short not in ("gathering", "draft")) | {S.DRAFT_READY_TO_ISSUE}
FAILED = frozenset({S.DRAFT_INVALID, S.ISSUING_FAILED, S.PAYMENT_FAILED})


def find(state: S, trigger: T, facts: Facts) -> Transition | None:
    """The transition ``trigger`` takes from ``state`` now, or None when it is not allowed."""
    for row in _BY_SOURCE[state]:
        if row.trigger == trigger and row.guard(facts):
            return row
    return None


def allowed_triggers(state: S, facts: Facts) -> list[T]:
    seen: list[T] = []
    for row in _BY_SOURCE[state]:
        if row.trigger not in seen and row.guard(facts):
            seen.append(row.trigger)
    return seen


def triggers_from(state: S) -> list[T]:
    """Every trigger the table knows from ``state``, whatever the guards say."""
    seen: list[T] = []
    for row in _BY_SOURCE[state]:
        if row.trigger not in seen:
            seen.append(row.trigger)
    return seen


# The API's availableActions, each the trigger it fires.
ACTIONS: Mapping[str, T] = {
    "advance": T.ADVANCE,
    "approve": T.APPROVE,
    "delete": T.DELETE,
    "retry": T.RETRY,
    "void": T.VOID,
    "invoice": T.INVOICE,
}


def available_actions(state: S, facts: Facts) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for action, trigger in ACTIONS.items():
        row = find(state, trigger, facts)
        if row is not None:
            out[action] = {"resultingState": row.target.value}
    return out


def is_editable(state: S) -> bool:
    return any(row.trigger == T.UPDATE for row in _BY_SOURCE[state])
