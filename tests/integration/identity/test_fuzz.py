"""Property-based API fuzzing (schemathesis) of the identity service: never a server error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from tests.harness.live_server import live_server

from .conftest import PASSWORD

schema = schemathesis.openapi.from_dict(create_app(IdentitySettings(environment="test")).openapi())


@pytest.fixture(scope="module")
def fuzz_target(identity_settings: IdentitySettings) -> Iterator[tuple[str, dict[str, str]]]:
    """A live identity server and an owner's bearer header for authenticated operations."""
    with live_server(create_app(identity_settings)) as base_url:
        response = httpx.post(
            f"{base_url}/signup",
            json={
                "organization": "Fuzz Org",
                "full_name": "Fuzz Owner",
                "email": f"fuzz-{uuid.uuid4().hex[:8]}@example.com",
                "password": PASSWORD,
            },
        )
        response.raise_for_status()
        token = response.json()["tokens"]["access_token"]
        yield base_url, {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors(case: schemathesis.Case, fuzz_target: tuple[str, dict[str, str]]) -> None:
    base_url, auth = fuzz_target
    response = case.call(base_url=base_url, headers=auth)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), response.text
