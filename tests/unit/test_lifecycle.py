"""The invoice lifecycle table: reachability, final states, delete/void, `next` and its hold points."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billhook.domain.lifecycle import (
    FAILED,
    FINAL,
    IMMUTABLE,
    TABLE,
    Facts,
    S,
    T,
    allowed_triggers,
    available_actions,
    find,
    is_editable,
    triggers_from,
)

NOW = datetime(2026, 4, 1, tzinfo=UTC)
DEFAULT = Facts(now=NOW)
ENDED = Facts(now=NOW, period_ended=True)

_FLAGS = (
    "period_ended",
    "has_lines",
    "billable_hold_released",
    "critical_issues",
    "draft_sync_hook",
    "draft_synced",
    "issuing_sync_hook",
    "auto_advance",
    "auto_settle",
)


def _all_facts() -> list[Facts]:
    """Every combination of the flags, with times before, at and after now (or unset)."""
    times = (None, NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1))
    out = []
    for flags in itertools.product((False, True), repeat=len(_FLAGS)):
        for draft_until, due_at in ((None, None), *((t, t) for t in times[1:]), (None, times[1]), (times[3], None)):
            out.append(Facts(now=NOW, draft_until=draft_until, due_at=due_at, **dict(zip(_FLAGS, flags, strict=True))))
    return out


ALL_FACTS = _all_facts()

DRAFTS = [s for s in S if s.value.startswith("draft.")]


def targets(state: S, trigger: T) -> set[S]:
    """Every state ``trigger`` can lead to from ``state`` under some facts."""
    out = set()
    for facts in ALL_FACTS:
        row = find(state, trigger, facts)
        if row is not None:
            out.add(row.target)
    return out


def test_every_status_is_reachable_from_gathering() -> None:
    seen = {S.GATHERING}
    queue = deque([S.GATHERING])
    while queue:
        state = queue.popleft()
        for trigger in T:
            for target in targets(state, trigger) - seen:
                seen.add(target)
                queue.append(target)
    assert seen == set(S)


def test_every_row_can_fire_under_some_facts() -> None:
    for row in TABLE:
        assert any(row.guard(f) for f in ALL_FACTS), row


def test_guards_never_disagree() -> None:
    """For one state, trigger and facts, at most one row applies: the table is deterministic."""
    pairs = {(row.source, row.trigger) for row in TABLE}
    for source, trigger in pairs:
        rows = [row for row in TABLE if row.source == source and row.trigger == trigger]
        if len(rows) < 2:
            continue
        for facts in ALL_FACTS:
            assert sum(row.guard(facts) for row in rows) <= 1, (source, trigger, facts)


def test_self_loops_are_edits_or_a_repeated_payment_status() -> None:
    repeated = {(S.PAYMENT_FAILED, T.PAYMENT_FAILED), (S.PAYMENT_ACTION_REQUIRED, T.ACTION_REQUIRED)}
    for row in TABLE:
        if row.source == row.target:
            assert row.trigger == T.UPDATE or (row.source, row.trigger) in repeated, row


# --- final states ----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.PAID, S.VOIDED, S.DELETED])
def test_final_states_have_no_way_out(state: S) -> None:
    assert state in FINAL
    assert [row for row in TABLE if row.source == state] == []
    assert triggers_from(state) == []
    assert available_actions(state, DEFAULT) == {}


def test_final_is_exactly_paid_voided_deleted() -> None:
    assert frozenset({S.PAID, S.VOIDED, S.DELETED}) == FINAL


def test_uncollectible_only_becomes_paid_or_void() -> None:
    rows = {(row.trigger, row.target) for row in TABLE if row.source == S.UNCOLLECTIBLE}
    assert rows == {(T.PAID, S.PAID), (T.VOID, S.VOIDED)}


def test_every_non_final_state_has_a_way_on() -> None:
    for state in set(S) - FINAL:
        assert triggers_from(state), state


# --- delete and void -------------------------------------------------------------------------------


def test_delete_is_allowed_from_every_draft_whatever_the_facts() -> None:
    for state in DRAFTS:
        for facts in (DEFAULT, replace(DEFAULT, has_lines=False, critical_issues=True)):
            row = find(state, T.DELETE, facts)
            assert row is not None and row.target == S.DELETED, state


def test_delete_is_allowed_nowhere_else_but_an_empty_gathering_invoice() -> None:
    assert find(S.GATHERING, T.DELETE, replace(DEFAULT, has_lines=True)) is None
    row = find(S.GATHERING, T.DELETE, replace(DEFAULT, has_lines=False))
    assert row is not None and row.target == S.DELETED
    for state in set(S) - set(DRAFTS) - {S.GATHERING}:
        assert targets(state, T.DELETE) == set(), state


VOIDABLE = {S.ISSUED, S.PAYMENT_PENDING, S.PAYMENT_FAILED, S.PAYMENT_ACTION_REQUIRED, S.OVERDUE, S.UNCOLLECTIBLE}


def test_void_is_allowed_exactly_from_issued_payment_overdue_and_uncollectible() -> None:
    for state in S:
        expected = {S.VOIDED} if state in VOIDABLE else set()
        assert targets(state, T.VOID) == expected, state
    for state in VOIDABLE:
        assert find(state, T.VOID, DEFAULT) is not None


# --- `next`: the sandbox path and the hold points ---------------------------------------------------


def run_next(state: S, facts: Facts, limit: int = 50) -> list[S]:
    """Fire `next` until nothing moves (advance until stable); the states visited, in order."""
    path = [state]
    for _ in range(limit):
        row = find(path[-1], T.NEXT, facts)
        if row is None:
            return path
        path.append(row.target)
    raise AssertionError(f"`next` does not settle: {path}")


def test_sandbox_path_walks_from_gathering_to_paid_on_next_alone() -> None:
    assert run_next(S.GATHERING, ENDED) == [
        S.GATHERING,
        S.DRAFT_CREATED,
        S.DRAFT_OUTSTANDING,
        S.DRAFT_VALIDATING,
        S.DRAFT_SYNCING,
        S.DRAFT_WAITING_AUTO_APPROVAL,
        S.DRAFT_READY_TO_ISSUE,
        S.ISSUING_SYNCING,
        S.ISSUED,
        S.PAYMENT_PENDING,
        S.PAID,
    ]


def test_gathering_waits_for_its_period_to_end() -> None:
    assert run_next(S.GATHERING, DEFAULT) == [S.GATHERING]


def test_an_empty_gathering_invoice_is_dropped_when_its_period_ends() -> None:
    assert run_next(S.GATHERING, replace(ENDED, has_lines=False)) == [S.GATHERING, S.DELETED]


def test_invoice_now_closes_gathering_early() -> None:
    row = find(S.GATHERING, T.INVOICE, DEFAULT)
    assert row is not None and row.target == S.DRAFT_CREATED
    assert find(S.GATHERING, T.INVOICE, replace(DEFAULT, has_lines=False)) is None


@given(
    st.builds(
        Facts,
        now=st.just(NOW),
        **{flag: st.booleans() for flag in _FLAGS},
        draft_until=st.sampled_from([None, NOW - timedelta(days=1), NOW + timedelta(days=1)]),
        due_at=st.sampled_from([None, NOW - timedelta(days=1), NOW + timedelta(days=1)]),
    ),
    st.sampled_from(list(S)),
)
def test_next_always_settles(facts: Facts, state: S) -> None:
    path = run_next(state, facts)
    assert len(path) == len(set(path))  # no cycles under fixed facts


def test_hold_1_billable_hook() -> None:
    held = replace(ENDED, billable_hold_released=False)
    assert run_next(S.GATHERING, held)[-1] == S.DRAFT_OUTSTANDING
    row = find(S.DRAFT_OUTSTANDING, T.APPROVE, held)  # Run Outstanding Invoice skips the wait
    assert row is not None and row.target == S.DRAFT_VALIDATING


def test_hold_2_draft_sync_hook() -> None:
    hooked = replace(ENDED, draft_sync_hook=True)
    assert run_next(S.GATHERING, hooked)[-1] == S.DRAFT_SYNCING
    assert find(S.DRAFT_SYNCING, T.APPROVE, hooked) is None  # approve never skips hold 2
    row = find(S.DRAFT_SYNCING, T.DRAFT_SYNCED, hooked)
    assert row is not None and row.target == S.DRAFT_WAITING_AUTO_APPROVAL
    assert run_next(S.DRAFT_SYNCING, replace(hooked, draft_synced=True))[-1] == S.PAID


def test_hold_3_issuing_sync_hook() -> None:
    hooked = replace(ENDED, issuing_sync_hook=True)
    assert run_next(S.GATHERING, hooked)[-1] == S.ISSUING_SYNCING
    assert find(S.ISSUING_SYNCING, T.APPROVE, hooked) is None
    synced = find(S.ISSUING_SYNCING, T.ISSUING_SYNCED, hooked)
    assert synced is not None and synced.target == S.ISSUED
    failed = find(S.ISSUING_SYNCING, T.ISSUING_FAILED, hooked)
    assert failed is not None and failed.target == S.ISSUING_FAILED
    retry = find(S.ISSUING_FAILED, T.RETRY, hooked)
    assert retry is not None and retry.target == S.ISSUING_SYNCING


def test_hold_4_payment_status() -> None:
    manual = replace(ENDED, auto_settle=False)
    assert run_next(S.GATHERING, manual)[-1] == S.PAYMENT_PENDING
    assert find(S.PAYMENT_PENDING, T.APPROVE, manual) is None
    for trigger, target in [
        (T.PAID, S.PAID),
        (T.PAYMENT_FAILED, S.PAYMENT_FAILED),
        (T.ACTION_REQUIRED, S.PAYMENT_ACTION_REQUIRED),
        (T.PAYMENT_UNCOLLECTIBLE, S.UNCOLLECTIBLE),
        (T.PAYMENT_OVERDUE, S.OVERDUE),
        (T.VOID, S.VOIDED),
    ]:
        row = find(S.PAYMENT_PENDING, trigger, manual)
        assert row is not None and row.target == target, trigger


def test_due_date_passing_makes_an_unpaid_invoice_overdue() -> None:
    for state in (S.PAYMENT_PENDING, S.PAYMENT_FAILED, S.PAYMENT_ACTION_REQUIRED):
        not_yet = replace(DEFAULT, auto_settle=False, due_at=NOW + timedelta(seconds=1))
        assert find(state, T.NEXT, not_yet) is None
        due = replace(DEFAULT, auto_settle=False, due_at=NOW)
        row = find(state, T.NEXT, due)
        assert row is not None and row.target == S.OVERDUE
    assert run_next(S.OVERDUE, replace(DEFAULT, auto_settle=False, due_at=NOW)) == [S.OVERDUE]


def test_draft_period_holds_auto_approval_until_draft_until() -> None:
    waiting = replace(ENDED, draft_until=NOW + timedelta(hours=1))
    assert run_next(S.GATHERING, waiting)[-1] == S.DRAFT_WAITING_AUTO_APPROVAL
    assert run_next(S.DRAFT_WAITING_AUTO_APPROVAL, replace(waiting, draft_until=NOW))[-1] == S.PAID
    for trigger in (T.ADVANCE, T.APPROVE):
        row = find(S.DRAFT_WAITING_AUTO_APPROVAL, trigger, waiting)
        assert row is not None and row.target == S.DRAFT_READY_TO_ISSUE


def test_manual_approval_when_auto_advance_is_off() -> None:
    manual = replace(ENDED, auto_advance=False)
    assert run_next(S.GATHERING, manual)[-1] == S.DRAFT_MANUAL_APPROVAL_NEEDED
    assert find(S.DRAFT_MANUAL_APPROVAL_NEEDED, T.ADVANCE, manual) is None
    row = find(S.DRAFT_MANUAL_APPROVAL_NEEDED, T.APPROVE, manual)
    assert row is not None and row.target == S.DRAFT_READY_TO_ISSUE
    synced = find(S.DRAFT_SYNCING, T.DRAFT_SYNCED, replace(manual, draft_sync_hook=True))
    assert synced is not None and synced.target == S.DRAFT_MANUAL_APPROVAL_NEEDED


def test_critical_issues_make_a_draft_invalid_until_retried() -> None:
    bad = replace(ENDED, critical_issues=True)
    assert run_next(S.GATHERING, bad)[-1] == S.DRAFT_INVALID
    row = find(S.DRAFT_INVALID, T.RETRY, bad)
    assert row is not None and row.target == S.DRAFT_VALIDATING
    assert run_next(S.DRAFT_VALIDATING, bad) == [S.DRAFT_VALIDATING, S.DRAFT_INVALID]
    assert run_next(S.DRAFT_INVALID, ENDED) == [S.DRAFT_INVALID]  # retry, not next, leaves it


def test_payment_failed_retry_goes_back_to_pending() -> None:
    row = find(S.PAYMENT_FAILED, T.RETRY, DEFAULT)
    assert row is not None and row.target == S.PAYMENT_PENDING


# --- edits ---------------------------------------------------------------------------------------


def test_edits_and_what_follows_them() -> None:
    stays = {S.GATHERING, S.DRAFT_OUTSTANDING, S.DRAFT_SYNCING}
    back = {S.DRAFT_INVALID, S.DRAFT_WAITING_AUTO_APPROVAL, S.DRAFT_MANUAL_APPROVAL_NEEDED}
    for state in S:
        row = find(state, T.UPDATE, DEFAULT)
        assert is_editable(state) == (state in stays | back), state
        if state in stays:
            assert row is not None and row.target == state and not row.reset_draft_sync
        elif state in back:
            # an earlier draft sync no longer counts: the external copy is stale
            assert row is not None and row.target == S.DRAFT_VALIDATING and row.reset_draft_sync
        else:
            assert row is None


def test_immutable_is_every_state_from_ready_to_issue_on() -> None:
    from_ready = {
        S.DRAFT_READY_TO_ISSUE,
        S.ISSUING_SYNCING,
        S.ISSUING_FAILED,
        S.ISSUED,
        S.PAYMENT_PENDING,
        S.PAYMENT_FAILED,
        S.PAYMENT_ACTION_REQUIRED,
        S.OVERDUE,
        S.PAID,
        S.UNCOLLECTIBLE,
        S.VOIDED,
        S.DELETED,
    }
    assert from_ready <= IMMUTABLE
    assert set(S) - IMMUTABLE == {
        S.GATHERING,
        S.DRAFT_CREATED,
        S.DRAFT_OUTSTANDING,
        S.DRAFT_VALIDATING,
        S.DRAFT_INVALID,
        S.DRAFT_SYNCING,
        S.DRAFT_WAITING_AUTO_APPROVAL,
        S.DRAFT_MANUAL_APPROVAL_NEEDED,
    }
    for state in IMMUTABLE:
        assert not is_editable(state), state


def test_immutable_is_closed_under_transitions() -> None:
    """Once immutable, never mutable again."""
    for row in TABLE:
        if row.source in IMMUTABLE:
            assert row.target in IMMUTABLE, row


def test_failed_states_are_the_ones_retry_leaves() -> None:
    assert {row.source for row in TABLE if row.trigger == T.RETRY} == FAILED


# --- availableActions ---------------------------------------------------------------------------


def actions(state: S, facts: Facts = DEFAULT) -> dict[str, str]:
    return {name: a["resultingState"] for name, a in available_actions(state, facts).items()}


def test_available_actions() -> None:
    assert actions(S.GATHERING) == {"invoice": "draft.created"}
    assert actions(S.GATHERING, replace(DEFAULT, has_lines=False)) == {"delete": "deleted"}
    assert actions(S.DRAFT_OUTSTANDING) == {"approve": "draft.validating", "delete": "deleted"}
    assert actions(S.DRAFT_INVALID) == {"delete": "deleted", "retry": "draft.validating"}
    assert actions(S.DRAFT_SYNCING) == {"delete": "deleted"}
    assert actions(S.DRAFT_WAITING_AUTO_APPROVAL) == {
        "advance": "draft.ready_to_issue",
        "approve": "draft.ready_to_issue",
        "delete": "deleted",
    }
    assert actions(S.DRAFT_MANUAL_APPROVAL_NEEDED) == {"approve": "draft.ready_to_issue", "delete": "deleted"}
    assert actions(S.DRAFT_READY_TO_ISSUE) == {"delete": "deleted"}
    assert actions(S.ISSUING_SYNCING) == {}
    assert actions(S.ISSUING_FAILED) == {"retry": "issuing.syncing"}
    assert actions(S.ISSUED) == {"void": "voided"}
    assert actions(S.PAYMENT_PENDING) == {"void": "voided"}
    assert actions(S.PAYMENT_FAILED) == {"retry": "payment_processing.pending", "void": "voided"}
    assert actions(S.OVERDUE) == {"void": "voided"}
    assert actions(S.UNCOLLECTIBLE) == {"void": "voided"}
    assert actions(S.PAID) == {}


def test_available_actions_agree_with_find() -> None:
    for state, facts in itertools.product(S, ALL_FACTS[::37]):
        allowed = allowed_triggers(state, facts)
        for name, action in available_actions(state, facts).items():
            row = find(state, T(name), facts)
            assert row is not None and row.target.value == action["resultingState"]
            assert T(name) in allowed


def test_short_status() -> None:
    assert S.PAYMENT_PENDING.short == "payment_processing"
    assert S.DRAFT_READY_TO_ISSUE.short == "draft"
    assert S.ISSUING_FAILED.short == "issuing"
    assert S.GATHERING.short == "gathering"
    assert S.DELETED.short == "deleted"
