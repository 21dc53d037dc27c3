"""An example integration: a listener for billhook's Subscription Billable hook.

When a subscription's billing period ends, billhook holds the invoice outstanding and sends
``subscription.billable`` with the subscription, the customer and the held invoice. This listener then
works on *that* invoice, named by its id (a subscription may hold several: its listener was down for
a few periods, say, and an operator redelivered their hooks):

1. verifies the webhook's signature (``billhook.receiver.verify``),
2. audits the tracked item quantities: sets each item's quantity on the held invoice from its own
   records of that period (a JSON file, {"<customer key>": {"<item key>": "<quantity>"}}, or per period,
   {"<customer key>": {"<period end, YYYY-MM-DD>": {"<item key>": "<quantity>"}}}),
3. adds a custom credit to it (a loyalty credit of LOYALTY_CREDIT),
4. runs it at once instead of waiting for the grace period, when it is the subscription's oldest held
   invoice (held invoices run in period order: a newer one is left to billhook, which runs it after its
   grace, once the older ones have run).

An invoice that is no longer held (billhook ran it after the grace, or someone did by hand) is left as
it is.

Run it next to ``billhook serve``:

    BILLHOOK_URL=http://127.0.0.1:8080 BILLHOOK_API_KEY=bh_... \\
    BILLHOOK_WEBHOOK_SECRET=whsec_... USAGE_FILE=usage.json \\
    python examples/billable_listener.py --port 9000

and register ``http://127.0.0.1:9000/`` as a webhook endpoint for ``subscription.billable``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from billhook.receiver import InvalidWebhook, verify

LOYALTY_CREDIT = os.environ.get("LOYALTY_CREDIT", "-5.00")


class Integration:
    def __init__(self, base_url: str, api_key: str, usage_file: Path) -> None:
        self.api = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )
        self.usage_file = usage_file
        self.seen: set[str] = set()  # webhook ids already handled: deliveries are at least once

    def records(self, customer_key: str, period_end: str) -> dict[str, str]:
        """Our own record of each tracked item's quantity at the end of the period ending ``period_end``."""
        if not self.usage_file.exists():
            return {}
        mine: dict[str, Any] = json.loads(self.usage_file.read_text()).get(customer_key, {})
        if any(isinstance(v, dict) for v in mine.values()):  # kept per period
            return dict(mine.get(period_end[:10], {}))
        return mine

    def on_billable(self, event: dict[str, Any]) -> None:
        subscription = event["data"]["subscription"]["id"]
        customer_key = event["data"]["customer"]["key"] or event["data"]["customer"]["id"]
        invoice_id = event["data"]["invoice"]["id"]
        invoice = self.call("GET", f"/billing/invoices/{invoice_id}")
        if invoice["status"] != "draft":
            return  # no longer held: billhook ran it already
        held = {"invoiceId": invoice_id}
        for item, quantity in self.records(customer_key, invoice["period"]["to"]).items():
            self.call("PUT", f"/subscriptions/{subscription}/items/{item}/quantity", {"quantity": quantity} | held)
        self.call(
            "POST",
            f"/subscriptions/{subscription}/charges",
            {"chargeCode": "loyalty", "quantity": 1, "eachAmount": LOYALTY_CREDIT, "description": "Loyalty credit"}
            | held,
            idempotency_key=f"loyalty-{event['id']}",
        )
        oldest = self.call("GET", f"/subscriptions/{subscription}/outstanding-invoice")
        if oldest["id"] == invoice_id:
            self.call(
                "POST",
                f"/subscriptions/{subscription}/outstanding-invoice/run",
                held,
                idempotency_key=f"run-{event['id']}",
            )

    def call(self, method: str, path: str, body: Any = None, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self.api.request(method, path, json=body, headers=headers)
        print(f"{method} {path} -> {response.status_code}", file=sys.stderr, flush=True)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


def make_handler(integration: Integration, secret: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # headers and body are two writes: don't hold the second back

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                event = verify(secret, dict(self.headers.items()), body)
            except InvalidWebhook as exc:
                self.answer(401, str(exc))
                return
            try:
                if event["type"] == "subscription.billable" and event["id"] not in integration.seen:
                    integration.on_billable(event)
                    integration.seen.add(event["id"])
            except Exception as exc:  # tell billhook to retry later
                self.answer(500, f"could not process: {exc}")
                return
            self.answer(200, "ok")

        def answer(self, status: int, text: str) -> None:
            raw = text.encode()
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, fmt: str, *args: Any) -> None:
            sys.stderr.write("listener: " + fmt % args + "\n")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    integration = Integration(
        os.environ.get("BILLHOOK_URL", "http://127.0.0.1:8080"),
        os.environ["BILLHOOK_API_KEY"],
        Path(os.environ.get("USAGE_FILE", "usage.json")),
    )
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(integration, os.environ["BILLHOOK_WEBHOOK_SECRET"])
    )
    print(f"listening on http://{args.host}:{server.server_port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
