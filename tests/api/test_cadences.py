"""Billing cadences and anchors: every period has the right length, month ends never drift."""

from __future__ import annotations

import pytest

from tests.api.helpers import closed_invoices, line_totals, lines, setup_team, subscribe, team_plan
from tests.conftest import Api

START = "2026-03-30T12:00:00Z"


@pytest.mark.parametrize(
    ("cadence", "first_end", "second_end"),
    [
        ("P1D", "2026-03-31T12:00:00Z", "2026-04-01T12:00:00Z"),
        ("P1W", "2026-04-06T12:00:00Z", "2026-04-13T12:00:00Z"),
        ("P1M", "2026-04-30T12:00:00Z", "2026-05-30T12:00:00Z"),
        ("P3M", "2026-06-30T12:00:00Z", "2026-09-30T12:00:00Z"),
        ("P1Y", "2027-03-30T12:00:00Z", "2028-03-30T12:00:00Z"),
    ],
)
def test_cadence_gives_periods_of_its_length(api: Api, cadence: str, first_end: str, second_end: str) -> None:
    setup_team(api, plan=team_plan(billingCadence=cadence))
    sub = subscribe(api)
    assert sub["currentPeriod"] == {"from": START, "to": first_end}
    (opening,) = closed_invoices(api, sub["id"])
    assert lines(opening)["Team plan"]["period"] == {"from": START, "to": first_end}
    assert line_totals(opening) == {"Team plan": "29.00"}  # a full period: no proration

    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "14"}))
    api.advance(to=first_end)
    sub = api.ok(api.get(f"/subscriptions/{sub['id']}"))
    assert sub["currentPeriod"] == {"from": first_end, "to": second_end}
    assert sub["billingDatetime"] == second_end
    closing = closed_invoices(api, sub["id"])[-1]
    assert closing["period"] == {"from": START, "to": first_end}
    assert lines(closing)["Storage (GB)"]["period"] == {"from": START, "to": first_end}
    assert lines(closing)["Team plan"]["period"] == {"from": first_end, "to": second_end}
    assert line_totals(closing) == {"Storage (GB)": "1.00", "Team plan": "29.00"}


def test_daily_periods_catch_up_one_invoice_each(api: Api) -> None:
    setup_team(api, plan=team_plan(billingCadence="P1D"))
    sub = subscribe(api)
    api.advance(to="2026-04-06T12:00:00Z")
    invoices = closed_invoices(api, sub["id"])
    assert len(invoices) == 8  # the opening one and seven closed days
    periods = [i["period"] for i in invoices[1:]]
    assert periods == [
        {"from": f"2026-{a}T12:00:00Z", "to": f"2026-{b}T12:00:00Z"}
        for a, b in zip(
            ["03-30", "03-31", "04-01", "04-02", "04-03", "04-04", "04-05"],
            ["03-31", "04-01", "04-02", "04-03", "04-04", "04-05", "04-06"],
            strict=True,
        )
    ]
    assert [i["number"] for i in invoices] == [f"INV-{n:06d}" for n in range(1, 9)]


def _month_end_periods(api: Api, sub_id: str) -> list[dict[str, str]]:
    return [i["period"] for i in closed_invoices(api, sub_id)[1:]]


def test_anchor_on_the_31st_keeps_to_month_ends(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api, startAt="2026-05-31T00:00:00Z")
    assert sub["currentPeriod"] == {"from": "2026-05-31T00:00:00Z", "to": "2026-06-30T00:00:00Z"}
    api.advance(to="2026-08-31T00:00:00Z")
    assert _month_end_periods(api, sub["id"]) == [
        {"from": "2026-05-31T00:00:00Z", "to": "2026-06-30T00:00:00Z"},
        {"from": "2026-06-30T00:00:00Z", "to": "2026-07-31T00:00:00Z"},
        {"from": "2026-07-31T00:00:00Z", "to": "2026-08-31T00:00:00Z"},
    ]
    sub = api.ok(api.get(f"/subscriptions/{sub['id']}"))
    assert sub["currentPeriod"] == {"from": "2026-08-31T00:00:00Z", "to": "2026-09-30T00:00:00Z"}
    # every period is a whole one: the fee is never prorated
    assert {line_totals(i)["Team plan"] for i in closed_invoices(api, sub["id"])} == {"29.00"}


def test_january_31st_goes_through_february_28th_to_march_31st(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api, startAt="2027-01-31T00:00:00Z")
    api.advance(to="2027-03-31T00:00:00Z")
    assert _month_end_periods(api, sub["id"]) == [
        {"from": "2027-01-31T00:00:00Z", "to": "2027-02-28T00:00:00Z"},
        {"from": "2027-02-28T00:00:00Z", "to": "2027-03-31T00:00:00Z"},
    ]
    assert api.ok(api.get(f"/subscriptions/{sub['id']}"))["currentPeriod"] == {
        "from": "2027-03-31T00:00:00Z",
        "to": "2027-04-30T00:00:00Z",
    }


def test_explicit_anchor_on_the_31st_prorates_then_follows_month_ends(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api, startAt="2026-04-10T00:00:00Z", billingAnchor="2026-01-31T00:00:00Z")
    assert sub["currentPeriod"] == {"from": "2026-04-10T00:00:00Z", "to": "2026-04-30T00:00:00Z"}
    api.advance(to="2026-05-31T00:00:00Z")
    opening, april, may = closed_invoices(api, sub["id"])
    assert line_totals(opening) == {"Team plan": "19.33"}  # 29.00 × 20/30 days (Mar 31 → Apr 30)
    assert april["period"] == {"from": "2026-04-10T00:00:00Z", "to": "2026-04-30T00:00:00Z"}
    assert lines(april)["Team plan"]["period"] == {"from": "2026-04-30T00:00:00Z", "to": "2026-05-31T00:00:00Z"}
    assert line_totals(april) == {"Team plan": "29.00"}
    assert may["period"] == {"from": "2026-04-30T00:00:00Z", "to": "2026-05-31T00:00:00Z"}
