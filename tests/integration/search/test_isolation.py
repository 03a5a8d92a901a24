"""Tenant B never finds, counts or is suggested tenant A's POCs, whatever it sends (dojos:
``test_dojos.py``), and rebuilds only its own documents."""

from __future__ import annotations

from typing import Any

import httpx

from tests.harness.dojos import MakeDojo
from tests.harness.identity import SignUp
from tests.harness.pocs import MakePoc

from .conftest import Sync

SHARED = {"language": "Python", "tags": ["shared-tag", "kafka"], "visibility": "tenant"}


async def test_search_suggest_and_facets_hold_only_the_callers_tenant(
    search: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc, sync: Sync
) -> None:
    a, b = await sign_up(), await sign_up()
    a_poc = await make_poc(a, name="Alpha kafka pipeline", **SHARED)
    await make_poc(a, name="Alpha private kafka", language="Python", tags=["a-only"])
    await make_poc(b, name="Beta kafka pipeline", **SHARED)
    await sync()
    probes: list[dict[str, Any]] = [
        {},
        {"q": "kafka"},
        {"q": "alpha"},
        {"q": "alpah pipelin"},
        {"tags": ["shared-tag"]},
        {"tags": ["a-only"]},
        {"language": "python", "sort": "name"},
        {"owner": a.user_id},
        {"tenant_id": a.tenant_id},  # ignored: the tenant comes from the token
        {"tenant": a.tenant_id, "q": "alpha"},
    ]
    for params in probes:
        response = await search.get("/search", params=params, headers=b.auth)
        assert response.status_code == 200, (params, response.text)
        body = response.json()
        names = [item["name"] for item in body["items"]]
        assert all(n.startswith("Beta") for n in names), (params, names)
        assert body["total"] == len(names), params
        for facet in body["facets"].values():
            counts = {f["value"]: f["count"] for f in facet}
            assert "a-only" not in counts, params
            assert all(c <= 1 for c in counts.values()), (params, counts)
        assert a_poc["poc_id"] not in response.text
    for q in ("alp", "alpha", "a-o", "kaf"):
        response = await search.get("/suggest", params={"q": q}, headers=b.auth)
        assert response.status_code == 200
        body = response.json()
        assert not any(n.startswith("Alpha") for n in body["names"]), (q, body)
        assert "a-only" not in body["tags"], (q, body)
    # Positive control: A finds its own.
    own = await search.get("/search", params={"q": "alpah"}, headers=a.auth)
    assert {i["name"] for i in own.json()["items"]} == {
        "Alpha kafka pipeline",
        "Alpha private kafka",
    }


async def test_reindex_rebuilds_only_the_callers_tenant(
    search: httpx.AsyncClient,
    sign_up: SignUp,
    make_poc: MakePoc,
    make_dojo: MakeDojo,
    sync: Sync,
) -> None:
    a, b = await sign_up(), await sign_up()
    await make_poc(a, name="Alpha one", visibility="tenant")
    await make_poc(b, name="Beta one", visibility="tenant")
    await make_dojo(a, name="Alpha dojo")
    await make_dojo(b, name="Beta dojo")
    await sync()
    response = await search.post("/reindex", headers=b.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["removed"], body["dojos"]["indexed"], body["dojos"]["removed"]) == (0, 1, 0)
    for who, prefix in ((a, "Alpha"), (b, "Beta")):
        found = (await search.get("/search", headers=who.auth)).json()
        assert [i["name"] for i in found["items"]] == [f"{prefix} one"]
        dojos = (await search.get("/search/dojos", headers=who.auth)).json()
        assert [i["name"] for i in dojos["items"]] == [f"{prefix} dojo"]
