"""Schemathesis against the served OpenAPI: no 5xx, and every response fits the schema.

Every operation is fuzzed twice: with generated path ids (mostly unknown ones) and with the ids
of seeded rows, so that generated bodies reach real customers, subscriptions and invoices.
Bounded to a few examples per operation so it fits in CI; runs on both storage lanes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import TEAM_PLAN, new_key

EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def served(runtime: Any) -> Iterator[tuple[Any, dict[str, str], dict[str, str]]]:
    from fastapi.testclient import TestClient

    from billhook.api.app import create_app

    app = create_app(runtime)
    headers = {"Authorization": f"Bearer {new_key(runtime)}"}
    with TestClient(app) as client:

        def post(path: str, body: dict[str, Any]) -> Any:
            response = client.post("/api/v1" + path, json=body, headers=headers)
            assert response.status_code < 300, response.text
            return response.json()

        post("/plans", TEAM_PLAN)
        post("/customers", {"key": "acme", "name": "Acme", "currency": "EUR"})
        sub = post("/subscriptions", {"customerId": "acme", "plan": "team"})
        charge = post(f"/subscriptions/{sub['id']}/charges", {"chargeCode": "setup", "eachAmount": "5.00"})
        invoices = client.get("/api/v1/billing/invoices", headers=headers).json()["items"]
    ids = {
        "customerIdOrKey": "acme",
        "planIdOrKey": "team",
        "subscriptionId": sub["id"],
        "chargeId": charge["id"],
        "invoiceId": invoices[0]["id"],
        "itemKey": "seats",
    }
    yield app, headers, ids


@pytest.mark.parametrize("path_ids", ["generated", "seeded"])
def test_no_server_error_and_schema_conformance(
    served: tuple[Any, dict[str, str], dict[str, str]], path_ids: str
) -> None:
    app, headers, ids = served
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case: Any) -> None:
            if path_ids == "seeded" and case.path_parameters:
                case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 30, "the schema lost operations"
    assert not failures, "\n\n".join(failures)
