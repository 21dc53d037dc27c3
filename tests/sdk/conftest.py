"""A live `billhook serve` subprocess per storage lane, and the official OpenMeter SDK pointed at it.

Every response the SDK receives passes through ``Recorder``, which checks its raw JSON with the strict
checker (the SDK itself accepts nearly anything) before the SDK sees it: a response a typed client could
not rely on fails the call that got it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openmeter
import pytest
from corehttp.runtime.policies import SansIOHTTPPolicy

from tests.conftest import postgres_database
from tests.e2e.support import Proc, clean_env, first_line, free_port, ready, spawn, stop, wait_for
from tests.sdk.strict import check

CLOCK_START = "2026-03-30T12:00:00Z"

# (methods, path under /api/v1, the SDK model of a successful response; "[X]" is a JSON array of X)
ROUTES: list[tuple[str, str, str]] = [
    ("GET", r"/marketplace/listings", "MarketplaceListingPaginatedResponse"),
    ("GET", r"/marketplace/listings/[^/]+", "MarketplaceListing"),
    ("POST", r"/marketplace/listings/[^/]+/install", "MarketplaceInstallResponse"),
    ("GET", r"/apps", "AppPaginatedResponse"),
    ("GET PUT", r"/apps/[^/]+", "App"),
    ("GET", r"/customers", "CustomerPaginatedResponse"),
    ("POST", r"/customers", "Customer"),
    ("GET PUT", r"/customers/[^/]+", "Customer"),
    ("GET", r"/billing/profiles", "BillingProfilePaginatedResponse"),
    ("POST", r"/billing/profiles", "BillingProfile"),
    ("GET PUT", r"/billing/profiles/[^/]+", "BillingProfile"),
    ("GET", r"/billing/customers", "BillingProfileCustomerOverrideWithDetailsPaginatedResponse"),
    ("GET PUT", r"/billing/customers/[^/]+", "BillingProfileCustomerOverrideWithDetails"),
    ("POST", r"/billing/customers/[^/]+/invoices/pending-lines", "InvoicePendingLineCreateResponse"),
    ("POST", r"/billing/invoices/invoice", "[Invoice]"),
    ("GET", r"/billing/invoices", "InvoicePaginatedResponse"),
    ("GET PUT", r"/billing/invoices/[^/]+", "Invoice"),
    ("POST", r"/billing/invoices/[^/]+/(advance|approve|retry|void|snapshot-quantities|taxes/recalculate)", "Invoice"),
]


def model_for(method: str, path: str) -> str | None:
    for methods, pattern, model in ROUTES:
        if method in methods.split() and re.fullmatch(pattern, path):
            return model
    return None


def strict_problems(method: str, path: str, status: int, body: bytes) -> list[str]:
    """What a typed client would trip on in this response (empty bodies are checked by the SDK itself)."""
    if not body:
        return []
    try:
        data = json.loads(body)
    except ValueError:
        return [f"not JSON: {body[:200]!r}"]
    if status >= 400:
        return check("UnexpectedProblemResponse", data)
    model = model_for(method, path)
    if model is None:
        return [f"no SDK model mapped for {method} {path}"]
    if model.startswith("["):
        if not isinstance(data, list):
            return ["expected a JSON array"]
        return [f"$[{i}]{p[1:]}" for i, item in enumerate(data) for p in check(model[1:-1], item)]
    return check(model, data)


@dataclass
class Seen:
    method: str
    path: str
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Keeps every response and fails the SDK call whose response the strict checker rejects."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    def on_response(self, request: Any, response: Any) -> None:
        req, resp = request.http_request, response.http_response
        path = httpx.URL(req.url).path.removeprefix("/api/v1")
        seen = Seen(req.method, path, resp.status_code, resp.content or b"")
        self.seen.append(seen)
        problems = strict_problems(seen.method, seen.path, seen.status, seen.body)
        assert problems == [], f"{seen.method} {seen.path} → {seen.status}: {problems}\n{seen.body[:2000]!r}"

    @property
    def last(self) -> Seen:
        return self.seen[-1]


@dataclass
class Server:
    base: str
    key: str
    proc: Proc
    recorder: Recorder = field(default_factory=Recorder)
    client: openmeter.Client = field(init=False)
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        # no retries: a 5xx must fail the call that got it, not be replayed
        self.client = openmeter.Client(
            endpoint=self.base, token=self.key, per_call_policies=[self.recorder], retry_total=0
        )
        self.http = httpx.Client(
            base_url=f"{self.base}/api/v1", headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )

    def raw(self, method: str, path: str, **kw: Any) -> Any:
        """The raw JSON of a call outside the SDK (billhook's own endpoints, or the SDK's checked again)."""
        r = self.http.request(method, path, **kw)
        assert r.status_code == 200, f"{method} {path} → {r.status_code}: {r.text}"
        return r.json()


def _serve(cwd: Path, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    # no worker: pending lines due now would otherwise be invoiced by it, racing "invoice now"; every step
    # these tests take happens in the API call itself
    args = ["serve", "--port", str(port), "--test-clock", "--test-clock-start", CLOCK_START, "--no-worker"]
    proc = spawn(args, env=env, cwd=cwd, label="serve")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(base), timeout=60, what="/readyz", procs=[proc])
        key = wait_for(lambda: first_line(proc), timeout=30, what="the first API key", procs=[proc])
        assert key.startswith("bh_"), proc.describe()
        server = Server(base, key, proc)
        yield server
        server.http.close()
        server.client.close()
    finally:
        stop(proc)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cwd = tmp_path_factory.mktemp(f"sdk-{request.param}")
    if request.param == "sqlite":  # the default database: ./billhook.db in the server's directory
        yield from _serve(cwd, clean_env())
    else:
        for url in postgres_database():
            yield from _serve(cwd, clean_env(BILLHOOK_DATABASE_URL=url))
