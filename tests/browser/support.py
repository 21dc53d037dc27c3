"""The browser lane's helpers: the server under test, a signed-in dashboard page, and set-ups over the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import TEAM_PLAN, Api
from tests.e2e.support import Proc
from tests.webhooks.listener import Listener

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

SUB_START = "2026-03-31T00:00:00Z"
PERIOD_END = "2026-04-30T00:00:00Z"
BILLABLE = "subscription.billable"


@dataclass
class Server:
    port: int
    key: str
    api: Api
    proc: Proc

    @property
    def base(self) -> str:
        # localhost, not 127.0.0.1: Chromium treats it as a secure context, so the Secure cookie is kept
        return f"http://localhost:{self.port}"

    def now(self) -> str:
        current: str = self.api.ok(self.api.get("/test-clock"))["now"]
        return current

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.api.ok(self.api.get(f"/billing/invoices/{invoice_id}?expand=lines"))
        return found

    def history(self, invoice_id: str) -> list[dict[str, Any]]:
        body = self.api.ok(self.api.get(f"/billing/invoices/{invoice_id}/history"))
        items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
        return items


@dataclass
class Dashboard:
    """A page of the dashboard in its own browser context."""

    page: Any
    server: Server
    page_errors: list[str] = field(default_factory=list)

    def sign_in(self, key: str | None = None, *, next_page: bool = True) -> None:
        """Sign in on the login page (opened first unless ``next_page`` is False: the one shown now)."""
        if next_page:
            self.page.goto("/login")
        self.page.locator("input[name=api_key]").fill(key or self.server.key)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in").click()

    def flashes(self) -> list[str]:
        texts: list[str] = self.page.locator("main .flash").all_inner_texts()
        return texts

    def clock(self) -> str:
        text: str = self.page.get_by_test_id("clock-now").inner_text()
        return text

    def submit(self, button: Any, *, confirm: bool = True) -> list[str]:
        """Click a button whose form asks first; accept (the page navigates) or dismiss. Returns the questions."""
        asked: list[str] = []

        def answer(dialog: Any) -> None:
            asked.append(dialog.message)
            if confirm:
                dialog.accept()
            else:
                dialog.dismiss()

        self.page.once("dialog", answer)
        if confirm:
            with self.page.expect_navigation():
                button.click()
        else:
            button.click()
        return asked

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


# ------------------------------------------------------------------------------------------ set-ups


def team_subscription(api: Api, customer: str = "acme", name: str | None = None, start: str = SUB_START) -> dict:
    """The Team plan (unless it exists), a customer and a subscription from ``start``."""
    if api.get("/plans/team").status_code == 404:
        api.ok(api.post("/plans", TEAM_PLAN), 201)
    api.ok(api.post("/customers", {"key": customer, "name": name or customer.title(), "currency": "EUR"}), 201)
    sub: dict[str, Any] = api.ok(
        api.post("/subscriptions", {"customerId": customer, "plan": "team", "startAt": start}), 201
    )
    return sub


def billable_endpoint(api: Api, listener: Listener, name: str = "billing") -> dict[str, Any]:
    body = {"url": listener.url(name), "eventTypes": [BILLABLE]}
    created: dict[str, Any] = api.ok(api.post("/webhooks/endpoints", body), 201)
    return created


def period_invoices(api: Api, sub_id: str) -> list[dict[str, Any]]:
    """The subscription's invoices that left gathering: issued ones in issue order, then the drafts."""
    items = api.ok(api.get(f"/billing/invoices?subscription={sub_id}&expand=lines&pageSize=100"))["items"]
    return sorted((i for i in items if i["status"] != "gathering"), key=lambda i: (i["issuedAt"] or "~", i["number"]))


def held_april(api: Api, customer: str = "acme", name: str | None = None) -> tuple[dict, dict]:
    """The worked example (57.5 GB storage, 12 seats from 31 March) closed at 30 April and held by hook 1.

    A ``subscription.billable`` endpoint must be registered first (its listener answering 200): the
    April invoice then waits in draft.outstanding for the billable grace (1 h by default).
    """
    sub = team_subscription(api, customer, name)
    api.advance(to=SUB_START)
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "57.5"}))
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "12"}))
    api.advance(to=PERIOD_END)
    opening, april = period_invoices(api, sub["id"])
    assert (opening["status"], opening["totals"]["total"]) == ("paid", "29.00")
    assert april["statusDetails"]["extendedStatus"] == "draft.outstanding", april["statusDetails"]
    assert april["totals"]["total"] == "130.88"
    return sub, april
