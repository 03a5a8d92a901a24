"""The local stack's environment configures the POC and search services as the README says."""

from __future__ import annotations

import pytest

from infra.local.cli import stack_env, stack_redis_url
from infra.local.services import SERVICES, Service
from platform_api.dojos.settings import DojosSettings
from platform_api.pocs.settings import PocsSettings
from platform_api.search.settings import SearchSettings


def test_stack_env_wires_pocs_worker_and_search(monkeypatch: pytest.MonkeyPatch) -> None:
    dsns = {
        s.name: (
            f"postgresql://{s.name}_app@db/{s.name}",
            f"postgresql://{s.name}_owner@db/{s.name}",
        )
        for s in (*SERVICES, Service("collab", 0, "", "COLLAB_"))
    }
    env = stack_env(dsns, redis_url="redis://cache:6379/0", entry="http://localhost:8080")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pocs, search = PocsSettings(), SearchSettings()
    assert pocs.migrations_database_url == "postgresql://pocs_owner@db/pocs"  # the worker's
    assert (pocs.bus_config().kind, pocs.bus_config().redis_url) == (
        "redis",
        "redis://cache:6379/0",
    )
    assert (search.bus_config().kind, search.index_backend) == ("redis", "tantivy")
    assert search.data_dir.endswith(".local/search-index")
    assert search.pocs_url == env["MRBILL_POCS_URL"]
    assert search.effective_service_token() == pocs.effective_service_token()
    assert search.dojos_url == env["MRBILL_DOJOS_URL"]
    assert search.effective_dojos_token() == DojosSettings().effective_service_token()
    assert {s.name for s in SERVICES} >= {"identity", "pocs", "search"}
    assert next(s for s in SERVICES if s.name == "pocs").workers == (
        ("pocs-worker", "platform_api.pocs.worker"),
    )


def test_stack_env_wires_the_dojo_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real dojo service (no stand-in): collab, identity, its ticket key, public URLs."""
    dsns = {s.name: ("postgresql://app@db/x", "postgresql://owner@db/x") for s in SERVICES}
    dsns["collab"] = ("postgresql://app@db/collab", "postgresql://owner@db/collab")
    env = stack_env(dsns, redis_url="redis://cache:6379/0", entry="http://localhost:18080")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    dojos = DojosSettings()
    assert dojos.collab_url == env["MRBILL_COLLAB_URL"]
    assert dojos.identity_url == env["MRBILL_IDENTITY_URL"]
    assert dojos.collab_public_url == "ws://localhost:18080/collab"
    assert dojos.public_base_url == "http://localhost:18080"
    assert dojos.ticket_private_key_file.endswith("keys/dojos-ed25519.pem")
    assert env["COLLAB_TICKET_PUBLIC_KEY_FILE"].endswith("keys/dojos-ed25519.pem")


def test_production_needs_the_shared_secret_and_an_index() -> None:
    with pytest.raises(ValueError, match="POCS_SERVICE_TOKEN"):
        PocsSettings(environment="production", database_url="postgresql://x")
    with pytest.raises(ValueError, match="SEARCH_POCS_SERVICE_TOKEN"):
        SearchSettings(environment="production", database_url="postgresql://x")
    with pytest.raises(ValueError, match="SEARCH_DOJOS_SERVICE_TOKEN"):
        SearchSettings(
            environment="production", database_url="postgresql://x", pocs_service_token="s"
        )
    with pytest.raises(ValueError, match="DOJOS_SERVICE_TOKEN"):
        DojosSettings(
            environment="production",
            database_url="postgresql://x",
            ticket_private_key="k",
            collab_url="http://collab",
        )
    with pytest.raises(ValueError, match="OPENSEARCH_URL"):
        SearchSettings(index_backend="opensearch")


def test_stacks_side_by_side_get_their_own_redis_database() -> None:
    """Streams and queues have fixed names: a second stack must not read the first's events."""
    assert stack_redis_url("redis://127.0.0.1:6379/0", "") == "redis://127.0.0.1:6379/0"
    e2e = stack_redis_url("redis://127.0.0.1:6379/0", "e2e_")
    other = stack_redis_url("redis://127.0.0.1:6379", "bench_")
    for url in (e2e, other):
        index = int(url.rsplit("/", 1)[1])
        assert 1 <= index <= 15
    assert e2e != other
    assert stack_redis_url("redis://:secret@cache:6379/0", "e2e_").startswith(
        "redis://:secret@cache:6379/"
    )
    assert stack_redis_url("redis://127.0.0.1:6379/7", "e2e_") == "redis://127.0.0.1:6379/7"
