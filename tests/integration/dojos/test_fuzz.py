"""Property-based API fuzzing (schemathesis) of the dojo service: never a server error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis

from platform_api.dojos import DojosSettings, create_app
from platform_api.dojos.collab import MemoryCollab
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.fuzz import FuzzTarget, fuzz_test
from tests.harness.live_server import live_server
from tests.integration.conftest import PASSWORD

from .conftest import dojo_body

schema = schemathesis.openapi.from_dict(create_app(DojosSettings(environment="test")).openapi())


@pytest.fixture(scope="module")
def fuzz_target(
    dojos_db: ServiceDatabase,
    identity_url: str,
    ticket_key: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FuzzTarget]:
    """A live dojo server (rooms in memory) and a tenant owner's bearer header."""
    dojo_settings = DojosSettings(
        environment="test",
        database_url=dojos_db.app_dsn,
        ticket_private_key=ticket_key[0],
        jwks_url=f"{identity_url}/.well-known/jwks.json",
        identity_url=identity_url,
        snapshot_dir=str(tmp_path_factory.mktemp("fuzz-objects")),
        event_bus="memory",
        run_worker=False,
    )
    response = httpx.post(
        f"{identity_url}/signup",
        json={
            "organization": "Fuzz Dojo Org",
            "full_name": "Fuzz Owner",
            "email": f"fuzz-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
        },
    )
    response.raise_for_status()
    auth = {"Authorization": f"Bearer {response.json()['tokens']['access_token']}"}
    with live_server(create_app(dojo_settings, collab=MemoryCollab())) as base_url:
        # A started dojo, so that list endpoints have something to page through.
        dojo = httpx.post(f"{base_url}/dojos", json=dojo_body(), headers=auth).json()
        httpx.post(f"{base_url}/dojos/{dojo['dojo_id']}/start", headers=auth).raise_for_status()
        yield base_url, auth


test_no_server_errors = fuzz_test(schema)
