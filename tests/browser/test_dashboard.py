"""The operator dashboard in a real browser, against a real `billhook serve --test-clock` process.

Set-ups go over the HTTP API (as an integration would); the checks are what an operator sees and
clicks. Screenshots of the main pages land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.browser.support import (
    PERIOD_END,
    SUB_START,
    Dashboard,
    billable_endpoint,
    held_april,
    period_invoices,
    team_subscription,
)
from tests.webhooks.listener import Listener, verified

pytestmark = pytest.mark.browser

START_SHOWN = "2026-03-30T12:00:00Z"


def _row(dash: Dashboard, text: str) -> Any:
    return dash.page.locator("tbody tr", has_text=text)


def test_sign_in_refuses_a_wrong_key_and_every_page_shows_the_test_clock(dash: Dashboard) -> None:
    page = dash.page
    page.goto("/invoices")
    assert page.url.startswith(f"{dash.server.base}/login?next=%2Finvoices")
    dash.screenshot("login")

    page.locator("input[name=api_key]").fill(dash.server.key + "x")
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Sign in").click()
    assert nav.value.status == 401
    assert page.get_by_role("alert").inner_text() == "That API key is not valid."
    assert not any(c["name"] == "billhook_session" for c in page.context.cookies())

    page.locator("input[name=api_key]").fill(dash.server.key)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == f"{dash.server.base}/invoices"
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "billhook_session"]
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
    assert page.evaluate("document.cookie") == ""  # not readable from scripts

    customer = dash.server.api.ok(dash.server.api.post("/customers", {"key": "acme", "name": "Acme"}), 201)
    for path, heading in (
        ("/invoices", "Invoices"),
        ("/customers", "Customers"),
        (f"/customers/{customer['id']}", "Acme"),
        ("/webhooks", "Webhooks"),
        ("/invoices/01NOSUCHINVOICE", "No invoice 01NOSUCHINVOICE"),
    ):
        page.goto(path)
        assert page.locator("h1").inner_text() == heading, path
        assert dash.clock() == START_SHOWN, path
        assert page.get_by_test_id("clock-namespace").inner_text() == "default", path  # the signed-in one's

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert page.url.startswith(f"{dash.server.base}/login")
    page.goto("/customers")
    assert page.url == f"{dash.server.base}/login?next=%2Fcustomers"
    dash.sign_in(next_page=False)  # back where the operator was going
    assert page.url == f"{dash.server.base}/customers"
    assert page.get_by_role("link", name="Acme").is_visible()

    # the page to come back to is always one of the dashboard's own
    page.context.clear_cookies()
    page.goto("/login?next=//attacker.test/x")
    dash.sign_in(next_page=False)
    assert page.url == f"{dash.server.base}/invoices"


def test_held_invoice_shows_its_hold_lines_and_timeline_and_runs_to_paid(dash: Dashboard, listener: Listener) -> None:
    api = dash.server.api
    billable_endpoint(api, listener)
    _sub, april = held_april(api)
    assert len(listener.received("billing")) == 1

    dash.sign_in()
    page = dash.page
    assert dash.clock() == PERIOD_END
    row = _row(dash, april["number"])
    assert row.locator(".badge").inner_text() == "draft.outstanding"
    assert row.locator("td.waiting").inner_text() == "grace until 2026-04-30 01:00 UTC"
    assert row.locator("td.num").inner_text() == "130.88 EUR"
    paid_opening = _row(dash, "INV-000001")
    assert paid_opening.locator(".badge").inner_text() == "paid"
    assert paid_opening.locator("td.num").inner_text() == "29.00 EUR"
    dash.screenshot("invoices")

    with page.expect_navigation():
        row.get_by_role("link", name=april["number"]).click()
    assert page.url == f"{dash.server.base}/invoices/{april['id']}"
    assert page.get_by_test_id("waiting").inner_text() == "Waiting for: grace until 2026-04-30 01:00 UTC"
    lines = {
        r.locator("td").nth(0).inner_text(): (r.locator("td").nth(2).inner_text(), r.locator("td").nth(3).inner_text())
        for r in page.locator("table.list tbody").first.locator("tr").all()
    }
    assert lines == {
        "Team plan (advance)": ("1", "29.00"),  # May's base fee, in advance
        "Storage (GB) (usage)": ("57.5", "11.88"),  # (57.5 − 10 included) × 0.25 = 11.875 → 11.88
        "Seats (usage)": ("12", "90.00"),  # volume tier 2: 12 × 7.50
    }
    assert page.get_by_test_id("total").inner_text() == "130.88 EUR"
    timeline = page.get_by_test_id("timeline")
    assert "draft.outstanding" in timeline.inner_text()
    deliveries = page.locator("table.list").nth(1)
    assert re.search(r"subscription\.billable\s+succeeded\s+1", deliveries.inner_text())
    dash.screenshot("invoice")

    buttons = page.locator(".actions button")
    assert "Run / approve" in buttons.all_inner_texts()
    asked = dash.submit(page.get_by_role("button", name="Run / approve"))
    assert asked == ["Approve / run this invoice now?"]
    assert dash.flashes() == ["approve: done"]
    assert page.locator("h1 .badge").inner_text() == "paid"
    assert page.get_by_test_id("waiting").count() == 0
    assert page.get_by_test_id("total").inner_text() == "130.88 EUR"  # running it changed no amount

    assert page.locator("h1").inner_text() == "Invoice INV-000002 paid"  # numbered when issued
    entries = timeline.locator("li").all_inner_texts()
    history = dash.server.history(april["id"])
    assert timeline.locator("li strong").all_inner_texts() == [h["to"] for h in history]
    assert [h["to"] for h in history][:2] == ["draft.created", "draft.outstanding"]
    ran = [h for h in history if h["trigger"] == "approve"]
    assert ran and ran[0]["from"] == "draft.outstanding" and ran[0]["actor"].startswith("dashboard:")
    assert history[-1]["to"] == "paid"
    assert re.search(r"draft\.outstanding → \S+\s+approve by dashboard:", "\n".join(entries))
    assert re.search(r"→ paid\b", entries[-1])
    assert dash.server.invoice(april["id"])["status"] == "paid"
    assert page.locator(".actions").inner_text().strip() == "No action is available in this state."
    dash.screenshot("invoice-paid")


def test_stale_action_shows_the_refusal_and_a_dismissed_confirm_does_nothing(
    dash: Dashboard, listener: Listener
) -> None:
    api = dash.server.api
    billable_endpoint(api, listener)
    sub, april = held_april(api)
    dash.sign_in()
    page = dash.page
    page.goto(f"/invoices/{april['id']}")
    history = dash.server.history(april["id"])

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    asked = dash.submit(page.get_by_role("button", name="Run / approve"), confirm=False)
    assert asked == ["Approve / run this invoice now?"]
    assert page.evaluate("1 + 1") == 2  # a round trip through the page after the click
    assert posts == []
    assert page.url == f"{dash.server.base}/invoices/{april['id']}"
    assert dash.server.invoice(april["id"])["statusDetails"]["extendedStatus"] == "draft.outstanding"
    assert dash.server.history(april["id"]) == history

    # behind the page's back: the integration runs the held invoice over the API
    ran = api.ok(api.post(f"/subscriptions/{sub['id']}/outstanding-invoice/run"))
    assert ran["status"] == "paid"
    refusal = api.post(f"/billing/invoices/{april['id']}/approve")
    assert refusal.status_code == 409
    reason = refusal.json()["detail"]
    assert reason.startswith("approve is not allowed while the invoice is paid")
    after_run = dash.server.history(april["id"])

    dash.submit(page.get_by_role("button", name="Run / approve"))  # the stale button
    assert dash.flashes() == [f"approve refused: {reason}"]
    assert page.locator("main .flash.error").count() == 1
    assert page.locator("h1 .badge").inner_text() == "paid"
    assert dash.server.history(april["id"]) == after_run


def test_webhooks_page_shows_health_redelivers_a_failed_delivery_and_rotates_a_secret(
    dash: Dashboard, listener: Listener
) -> None:
    api = dash.server.api
    listener.down()  # the endpoint's port refuses connections
    ep = billable_endpoint(api, listener, "down")
    held_april(api)
    # the first attempt was refused; exhaust the retry schedule (5 s … 1 day after each attempt)
    for _ in range(12):
        (delivery,) = api.ok(api.get("/webhooks/deliveries"))["items"]
        if delivery["status"] == "failed":
            break
        api.advance(to=delivery["nextAttemptAt"])
    assert (delivery["status"], delivery["attemptCount"]) == ("failed", 11)
    assert listener.received() == []

    dash.sign_in()
    page = dash.page
    page.goto("/webhooks")
    endpoint_row = page.get_by_test_id("endpoints").locator("tbody tr", has_text=ep["url"])
    cells = endpoint_row.locator("td")
    assert cells.nth(1).inner_text() == "subscription.billable"
    assert cells.nth(2).inner_text() == "0% of 11 attempts"
    last_failure = cells.nth(3).inner_text()
    assert last_failure.endswith(delivery["attempts"][-1]["at"]) and "refused" in last_failure.lower(), last_failure
    delivery_row = page.get_by_test_id("deliveries").locator("tbody tr", has_text=delivery["eventId"])
    assert delivery_row.locator(".delivery-status").inner_text() == "failed"
    assert delivery_row.locator("ol.attempts li").count() == 11
    dash.screenshot("webhooks")

    listener.up()  # the same port answers 200 now
    asked = dash.submit(delivery_row.get_by_role("button", name="Redeliver"))
    assert asked == ["Send this delivery again?"]
    assert dash.flashes() == ["redelivery queued"]
    # run the worker: the dashboard's clock control walks the namespace's test clock and waits for the work due
    page.locator("select[name=by]").select_option("PT1H")
    with page.expect_navigation():
        page.get_by_role("button", name="Advance").click()
    assert page.url == f"{dash.server.base}/webhooks"
    (clock_flash,) = dash.flashes()
    assert clock_flash.startswith("clock of default now ") and "still being processed" not in clock_flash
    delivery_row = page.get_by_test_id("deliveries").locator("tbody tr", has_text=delivery["eventId"])
    assert delivery_row.locator(".delivery-status").inner_text() == "succeeded"
    assert delivery_row.locator("ol.attempts li").count() == 12
    assert re.search(r"· 200 ·", delivery_row.locator("ol.attempts li").last.inner_text())
    assert cells.nth(2).inner_text() == "8% of 12 attempts"
    (received,) = listener.received("down")
    assert received.webhook_id == delivery["eventId"]  # the same webhook-id as the failed attempts
    assert verified(ep["secret"], received)["type"] == "subscription.billable"

    # rotating the secret shows the new one once
    asked = dash.submit(endpoint_row.get_by_role("button", name="Rotate secret"))
    assert asked == ["Rotate this endpoint's secret?"]
    (rotated,) = dash.flashes()
    match = re.fullmatch(r"new secret \(shown once; the old one signs for 24 h more\): (whsec_\S+)", rotated)
    assert match, rotated
    assert match.group(1) != ep["secret"]
    page.reload()
    assert dash.flashes() == []
    assert match.group(1) not in page.content()


def test_customer_page_shows_subscriptions_profile_quantities_charges_and_invoices(
    dash: Dashboard, listener: Listener
) -> None:
    api = dash.server.api
    billable_endpoint(api, listener)
    sub, april = held_april(api)
    sid = sub["id"]
    out, current = {"invoicePeriod": "outstanding"}, {"invoicePeriod": "current"}
    api.ok(api.put(f"/subscriptions/{sid}/items/storage_gb/quantity", {"quantity": "20"} | out))
    api.ok(api.put(f"/subscriptions/{sid}/items/storage_gb/quantity", {"quantity": "40"} | current))
    setup = {"chargeCode": "setup", "quantity": 2, "eachAmount": "12.50"} | out
    api.ok(api.post(f"/subscriptions/{sid}/charges", setup), 201)
    consulting = {"chargeCode": "consulting", "quantity": 1, "eachAmount": "100.00"} | current
    api.ok(api.post(f"/subscriptions/{sid}/charges", consulting), 201)
    held = dash.server.invoice(april["id"])
    assert held["totals"]["total"] == "146.50"  # 29.00 + (20 − 10) × 0.25 + 12 × 7.50 + 2 × 12.50

    dash.sign_in()
    page = dash.page
    page.goto("/customers")
    with page.expect_navigation():
        page.get_by_role("link", name="Acme").click()
    assert page.locator("h1").inner_text() == "Acme"
    main = page.locator("main")
    profile = main.locator("h2:has-text('Billing profile in force') + p").inner_text()
    assert "(the default)" in profile
    assert "auto-advance True · due after P30D" in profile and "billable grace PT1H" in profile

    card = main.locator("article.card")
    assert card.locator("h3").inner_text() == "team active"
    assert "current period 2026-04-30T00:00:00Z → 2026-05-31T00:00:00Z" in card.inner_text()
    items = {
        r.locator("td").nth(0).inner_text(): [r.locator("td").nth(i).inner_text() for i in (1, 2, 3)]
        for r in card.locator("table").first.locator("tbody tr").all()
    }
    assert items == {
        "Storage (GB) (metered)": ["40", "20", "10"],
        "Seats (licensed)": ["12", "12", "0"],
    }
    charges = sorted(r.inner_text().split("\t") for r in card.locator("table").nth(1).locator("tbody tr").all())
    assert charges == [["consulting", "current", "1", "100.00"], ["setup", "outstanding", "2", "12.50"]]
    outstanding = card.locator("p", has_text="Outstanding invoice")
    assert april["number"] in outstanding.inner_text() and "draft.outstanding" in outstanding.inner_text()

    invoices = {
        r.locator("td").nth(0).inner_text(): (r.locator(".badge").inner_text(), r.locator("td.num").inner_text())
        for r in main.locator("h2:has-text('Invoices') + table tbody tr").all()
    }
    assert invoices["INV-000001"] == ("paid", "29.00 EUR")
    assert invoices[april["number"]] == ("draft.outstanding", "146.50 EUR")
    gathering = [v for k, v in invoices.items() if k not in ("INV-000001", april["number"])]
    # May so far: (40 − 10) × 0.25 + 12 × 7.50 + 100.00 (May's base fee was billed in advance in April)
    assert gathering == [("gathering", "197.50 EUR")]
    dash.screenshot("customer")


def test_names_are_escaped_and_a_post_without_the_csrf_token_changes_nothing(
    dash: Dashboard, listener: Listener
) -> None:
    api = dash.server.api
    billable_endpoint(api, listener)
    name = "<script>alert(1)</script>"
    _sub, april = held_april(api, "evil", name)
    dialogs: list[str] = []
    dash.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    dash.sign_in()
    page = dash.page
    for path in ("/invoices", "/customers", f"/customers/{april['customer']['id']}", f"/invoices/{april['id']}"):
        page.goto(path)
        assert page.get_by_text(name, exact=True).first.is_visible(), path
        assert name not in page.content() and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content(), path
    assert page.title() == f"{april['number']} · billhook"
    assert dialogs == []

    history = dash.server.history(april["id"])
    # a cross-site style POST: the session cookie rides along, the form's token does not
    for form in ({}, {"csrf": "not-the-token"}):
        response = page.request.post(f"/invoices/{april['id']}/actions/approve", form=form)
        assert response.ok and response.url.endswith(f"/invoices/{april['id']}")  # back to the page, with a flash
        assert "approve refused: the form&#39;s CSRF token does not match this session" in response.text()
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "billhook_session"]
    with httpx.Client(base_url=f"http://127.0.0.1:{dash.server.port}", timeout=30) as raw:
        response = raw.post(
            f"/invoices/{april['id']}/actions/approve",
            data={"other": "field"},
            headers={"cookie": f"billhook_session={cookie['value']}"},
        )
        assert response.status_code == 303 and response.headers["location"] == f"/invoices/{april['id']}"
    assert dash.server.invoice(april["id"])["statusDetails"]["extendedStatus"] == "draft.outstanding"
    assert dash.server.history(april["id"]) == history

    # a real cross-site form post from another site: SameSite=Strict keeps the session cookie home,
    # so the dashboard sees a signed-out visitor and sends them to sign in (back to the invoice after)
    action = f"{dash.server.base}/invoices/{april['id']}/actions/approve"
    attacker = f'<form method="post" action="{action}"><input name="csrf" value="guess"></form>'
    attacker += "<script>document.forms[0].submit()</script>"
    page.route("http://attacker.test/**", lambda route: route.fulfill(content_type="text/html", body=attacker))
    with page.expect_navigation(url=re.compile(r"/login\?")):
        page.goto("http://attacker.test/")
    assert page.url == f"{dash.server.base}/login?next=%2Finvoices%2F{april['id']}"
    assert dash.server.history(april["id"]) == history
    dash.sign_in(next_page=False)
    assert page.url == f"{dash.server.base}/invoices/{april['id']}"
    assert page.locator("h1 .badge").inner_text() == "draft.outstanding"
    assert dash.server.history(april["id"]) == history
    assert dialogs == []


def test_invoice_list_draws_the_revenue_and_status_charts(dash: Dashboard) -> None:
    api = dash.server.api
    dash.sign_in()
    page = dash.page
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    assert "nothing invoiced yet" in charts.first.inner_html()
    assert page.locator("svg.chart rect.bar").count() == 0

    sub = team_subscription(api, "acme", start=SUB_START)
    api.advance(to=PERIOD_END)  # nobody listens for the billable hook: April's invoice goes straight to paid
    api.advance(to="2026-05-31T00:00:00Z")
    totals = [i["totals"]["total"] for i in period_invoices(api, sub["id"])]
    assert totals == ["29.00", "29.00", "29.00"]

    page.reload()
    revenue = charts.first
    assert revenue.get_attribute("aria-label") == "Revenue invoiced per period (EUR)"
    bars = revenue.locator("rect.bar")
    assert bars.count() == 2
    assert [t.text_content() for t in revenue.locator("text.value").all()] == ["58.00", "29.00"]
    assert [t.text_content() for t in revenue.locator("text.label").all()] == ["2026-03", "2026-04"]
    heights = [float(b.get_attribute("height")) for b in bars.all()]
    assert heights[0] == pytest.approx(2 * heights[1])
    for box in (bars.first.bounding_box(), bars.last.bounding_box()):
        assert box is not None and box["width"] > 0 and box["height"] > 0  # drawn, not just present
    status = charts.nth(1)
    segments = status.locator("rect[fill='#27ab83'] > title")  # paid
    assert sum(int(t.text_content().split(": ")[1].split()[0]) for t in segments.all()) == 3
