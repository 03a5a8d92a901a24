"""Property-based API fuzzing (schemathesis) of the search service: never a server error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from platform_api.kernel import KeySet
from platform_api.pocs.app import create_app as create_pocs_app
from platform_api.pocs.settings import PocsSettings
from platform_api.search.app import create_app
from platform_api.search.settings import SearchSettings
from tests.harness.identity import Account, new_tenant
from tests.harness.live_server import live_server

schema = schemathesis.openapi.from_dict(create_app(SearchSettings(environment="test")).openapi())


@pytest.fixture(scope="module")
async def fuzz_account(identity: httpx.AsyncClient) -> Account:
    return await new_tenant(identity, "Fuzz search")


@pytest.fixture(scope="module")
def fuzz_target(
    search_settings: SearchSettings,
    pocs_settings: PocsSettings,
    identity_keys: KeySet,
    fuzz_account: Account,
) -> Iterator[tuple[str, dict[str, str]]]:
    """A live search server (its own RAM index, no consumer) rebuilding from a live POC
    server, and an owner's bearer header."""
    with live_server(create_pocs_app(pocs_settings, keys=identity_keys)) as pocs_url:
        settings = search_settings.model_copy(update={"consume": False, "pocs_url": pocs_url})
        with live_server(create_app(settings, keys=identity_keys)) as base_url:
            yield base_url, fuzz_account.auth


@schema.parametrize()
@settings(
    max_examples=40,
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
