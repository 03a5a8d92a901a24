"""Property-based API fuzzing (schemathesis) of the identity service: never a server error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis

from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from tests.harness.fuzz import FuzzTarget, fuzz_test
from tests.harness.live_server import live_server

from .conftest import PASSWORD

schema = schemathesis.openapi.from_dict(create_app(IdentitySettings(environment="test")).openapi())


@pytest.fixture(scope="module")
def fuzz_target(identity_settings: IdentitySettings) -> Iterator[FuzzTarget]:
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


test_no_server_errors = fuzz_test(schema)
