"""Property-based API fuzzing (schemathesis) of the POC service: never a server error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis

from platform_api.kernel import KeySet
from platform_api.pocs.app import create_app
from platform_api.pocs.settings import PocsSettings
from tests.harness.fuzz import FuzzTarget, fuzz_test
from tests.harness.identity import Account, new_tenant
from tests.harness.live_server import live_server

schema = schemathesis.openapi.from_dict(create_app(PocsSettings(environment="test")).openapi())


@pytest.fixture(scope="module")
async def fuzz_account(identity: httpx.AsyncClient) -> Account:
    return await new_tenant(identity, "Fuzz POCs")


@pytest.fixture(scope="module")
def fuzz_target(
    pocs_settings: PocsSettings, identity_keys: KeySet, fuzz_account: Account
) -> Iterator[FuzzTarget]:
    """A live POC server, one POC in it, and an owner's bearer header."""
    with live_server(create_app(pocs_settings, keys=identity_keys)) as base_url:
        created = httpx.post(
            f"{base_url}/pocs", json={"name": "Fuzz me"}, headers=fuzz_account.auth
        )
        created.raise_for_status()
        yield base_url, fuzz_account.auth


test_no_server_errors = fuzz_test(schema)
