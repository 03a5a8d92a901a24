"""contracts/openapi-<service>.yaml must match what each service serves."""

from __future__ import annotations

import pytest
import yaml

from infra.local.contracts import CONTRACTS, render
from infra.local.services import SERVICES


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_contract_is_current(service: str) -> None:
    path = CONTRACTS / f"openapi-{service}.yaml"
    assert path.exists(), f"{path} is missing: run `./mrbill contracts`"
    assert path.read_text() == render(service), f"{path} is stale: run `./mrbill contracts`"


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_every_error_response_is_problem_json(service: str) -> None:
    spec = yaml.safe_load((CONTRACTS / f"openapi-{service}.yaml").read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    content = response.get("content", {})
                    assert "application/problem+json" in content, f"{method} {path} {status}"
