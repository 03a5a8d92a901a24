"""Property-based API fuzzing (schemathesis) of the content service, from its committed
contract (``contracts/openapi-content.yaml``): never a server error, errors as problem+json,
and every answer within the contract (status codes, content types, response bodies)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import schemathesis

from infra.local.contracts import CONTRACTS
from platform_api.content.app import create_app
from platform_api.content.settings import ContentSettings
from platform_api.kernel import KeySet, TokenVerifier
from platform_api.kernel.queues.redis_streams import RedisStreamsQueue
from platform_api.pocs.app import create_app as create_pocs_app
from platform_api.pocs.settings import PocsSettings
from tests.harness.fuzz import CONTRACT_CHECKS, FuzzTarget, fuzz_test
from tests.harness.identity import Account, new_tenant
from tests.harness.live_server import live_server

schema = schemathesis.openapi.from_path(CONTRACTS / "openapi-content.yaml")


@pytest.fixture(scope="module")
async def fuzz_account(identity: httpx.AsyncClient) -> Account:
    return await new_tenant(identity, "Fuzz content")


@pytest.fixture(scope="module")
async def fuzz_settings(
    content_settings: ContentSettings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ContentSettings]:
    """The content settings with this module's own job queue (emptied afterwards) and folder."""
    settings = content_settings.model_copy(
        update={
            "queue_name": f"{content_settings.queue_name}-fuzz",
            "blob_dir": str(tmp_path_factory.mktemp("fuzz-objects")),
            "events_max_seconds": 1.0,
        }
    )
    yield settings
    queue = RedisStreamsQueue(settings.redis_url, settings.queue_name)
    await queue.purge()
    await queue.aclose()


@pytest.fixture(scope="module")
def fuzz_target(
    fuzz_settings: ContentSettings,
    pocs_settings: PocsSettings,
    identity_keys: KeySet,
    fuzz_account: Account,
) -> Iterator[FuzzTarget]:
    """A live content server reading POCs from a live POC server (which holds one POC), one
    queued request, and an owner's bearer header."""
    verifier = TokenVerifier(
        identity_keys, issuer="https://mrbill.local/identity", audience="mrbill-api"
    )
    with live_server(create_pocs_app(pocs_settings, keys=identity_keys)) as pocs_url:
        poc = httpx.post(
            f"{pocs_url}/pocs",
            json={"name": "Fuzz me", "language": "Python", "tags": ["fuzz"]},
            headers=fuzz_account.auth,
        )
        poc.raise_for_status()
        settings = fuzz_settings.model_copy(update={"pocs_url": pocs_url})
        with live_server(create_app(settings, verifier=verifier)) as base_url:
            created = httpx.post(
                f"{base_url}/content-requests",
                json={"type": "report", "year": int(poc.json()["created_at"][:4])},
                headers=fuzz_account.auth,
            )
            created.raise_for_status()
            assert created.json()["poc_count"] == 1
            yield base_url, fuzz_account.auth


test_no_server_errors = fuzz_test(schema, max_examples=40, checks=CONTRACT_CHECKS)
