"""Property-based API fuzzing (schemathesis) of the search service: never a server error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis

from platform_api.dojos import DojosSettings
from platform_api.kernel import KeySet
from platform_api.pocs.app import create_app as create_pocs_app
from platform_api.pocs.settings import PocsSettings
from platform_api.search.app import create_app
from platform_api.search.settings import SearchSettings
from tests.harness.dojos import dojos_app
from tests.harness.fuzz import FuzzTarget, fuzz_test
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
    dojos_settings: DojosSettings,
    identity_keys: KeySet,
    fuzz_account: Account,
) -> Iterator[FuzzTarget]:
    """A live search server (its own RAM indexes, no consumer) rebuilding from live POC and
    dojo servers, and an owner's bearer header."""
    with (
        live_server(create_pocs_app(pocs_settings, keys=identity_keys)) as pocs_url,
        live_server(dojos_app(dojos_settings)) as dojos_url,
    ):
        settings = search_settings.model_copy(
            update={"consume": False, "pocs_url": pocs_url, "dojos_url": dojos_url}
        )
        with live_server(create_app(settings, keys=identity_keys)) as base_url:
            yield base_url, fuzz_account.auth


test_no_server_errors = fuzz_test(schema, max_examples=40)
