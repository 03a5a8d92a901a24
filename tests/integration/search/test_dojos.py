"""Dojo search end to end: the dojo service's events (outbox → relay → bus → consumer) make
dojos searchable; typos, filters, facets, pages, privacy, tenant isolation, bad input."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from platform_api.kernel.events import Event, InMemoryBus
from platform_api.kernel.outbox import OutboxRelay
from platform_api.search.index_dojos import DojoQuery
from platform_api.search.service import Search, apply_events
from tests.harness.dojos import MakeDojo
from tests.harness.identity import Account, SignUp
from tests.harness.pagination import encode

from .conftest import Sync

InviteMember = Callable[..., Awaitable[Account]]
KATAS = [
    {"name": "FizzBuzz kata", "language": "Python", "tags": ["tdd", "beginners"],
     "description": "Print *fizz* for multiples of three."},
    {"name": "Bowling game", "language": "Rust", "tags": ["kata"], "format": "prepared"},
    {"name": "Roman numerals", "language": "TypeScript", "tags": ["tdd", "kata"]},
]  # fmt: skip


async def _find(client: httpx.AsyncClient, who: Account, **params: Any) -> dict[str, Any]:
    response = await client.get("/search/dojos", params=params, headers=who.auth)
    assert response.status_code == 200, response.text
    return response.json()


def _names(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["items"]]


def _facet(body: dict[str, Any], name: str) -> dict[str, int]:
    return {f["value"]: f["count"] for f in body["facets"][name]}


async def _invite_and_join(
    dojos: httpx.AsyncClient, facilitator: Account, guest: Account, dojo_id: str
) -> None:
    invite = await dojos.post(f"/dojos/{dojo_id}/invites", json={}, headers=facilitator.auth)
    assert invite.status_code == 201, invite.text
    joined = await dojos.post(
        "/dojos/join", json={"code": invite.json()["code"]}, headers=guest.auth
    )
    assert joined.status_code == 200, joined.text


async def _act(dojos: httpx.AsyncClient, who: Account, method: str, path: str, **kw: Any) -> Any:
    response = await dojos.request(method, path, headers=who.auth, **kw)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def test_dojo_events_make_dojos_searchable(
    search: httpx.AsyncClient,
    dojos: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: InviteMember,
    make_dojo: MakeDojo,
    sync: Sync,
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    made = [await make_dojo(owner, **kata) for kata in KATAS]
    fizz = made[0]["dojo_id"]
    await _invite_and_join(dojos, owner, member, fizz)
    await sync()
    # A typo, a prefix, a tag, the description: the dojo service's fields are all there.
    for q, expected in (
        ("fizbuz", ["FizzBuzz kata"]),
        ("bowl", ["Bowling game"]),
        ("romen numerls", ["Roman numerals"]),
        ("multiples thre", ["FizzBuzz kata"]),
        ("beginers", ["FizzBuzz kata"]),
        ("kubernetes", []),
    ):
        body = await _find(search, member, q=q)
        assert _names(body) == expected, q
        assert body["total"] == len(expected)
    hit = (await _find(search, member, q="fizzbuzz"))["items"][0]
    assert (hit["dojo_id"], hit["participant_count"], hit["status"]) == (fizz, 2, "scheduled")
    assert (hit["language"], hit["tags"], hit["is_private"]) == (
        "Python",
        ["tdd", "beginners"],
        False,
    )
    assert "<mark>FizzBuzz</mark>" in hit["highlights"]["name"]
    # The lifecycle reaches the index: start, end, archive (archived ones only on request).
    await _act(dojos, owner, "POST", f"/dojos/{fizz}/start")
    await _act(
        dojos, owner, "PATCH", f"/dojos/{made[1]['dojo_id']}", json={"name": "Bowling night"}
    )
    await _act(dojos, owner, "POST", f"/dojos/{made[2]['dojo_id']}/archive")
    await sync()
    everything = await _find(search, member)
    assert sorted(_names(everything)) == ["Bowling night", "FizzBuzz kata"]
    assert _facet(everything, "status") == {"active": 1, "scheduled": 1}
    assert _facet(everything, "language") == {"Python": 1, "Rust": 1}
    assert _names(await _find(search, member, status="active")) == ["FizzBuzz kata"]
    assert _names(await _find(search, member, status="archived")) == ["Roman numerals"]
    assert _names(await _find(search, member, language="rust")) == ["Bowling night"]
    assert _names(await _find(search, member, q="bowling")) == ["Bowling night"]
    assert _names(await _find(search, member, tags=["TDD"], status=["active", "archived"])) == [
        "Roman numerals",
        "FizzBuzz kata",
    ]
    # Leaving updates the count.
    await _act(dojos, member, "POST", f"/dojos/{fizz}/leave")
    await sync()
    assert (await _find(search, member, q="fizzbuzz"))["items"][0]["participant_count"] == 1
    # Suggestions as you type.
    suggested = await search.get("/suggest/dojos", params={"q": "bowl"}, headers=member.auth)
    assert suggested.json()["names"] == ["Bowling night"]
    suggested = await search.get("/suggest/dojos", params={"q": "begi"}, headers=member.auth)
    assert suggested.json()["tags"] == ["beginners"]


async def test_pages_add_up(
    search: httpx.AsyncClient, sign_up: SignUp, make_dojo: MakeDojo, sync: Sync
) -> None:
    owner = await sign_up()
    for n in range(7):
        await make_dojo(owner, name=f"Kata number {n}", tags=["paging"])
    await sync()
    for sort in ("name", "newest", "start", "relevance"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {
                "q": "kata",
                "limit": 3,
                "sort": sort,
                **({"cursor": cursor} if cursor else {}),
            }
            body = await _find(search, owner, **params)
            assert body["total"] == 7
            seen += _names(body)
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == [f"Kata number {n}" for n in range(7)], sort
    by_name = await _find(search, owner, sort="name", limit=3)
    assert _names(by_name) == ["Kata number 0", "Kata number 1", "Kata number 2"]
    # A cursor belongs to its query.
    other = await search.get(
        "/search/dojos",
        params={"sort": "newest", "limit": 3, "cursor": by_name["next_cursor"]},
        headers=owner.auth,
    )
    assert other.status_code == 400
    pocs_cursor = await search.get(
        "/search", params={"cursor": by_name["next_cursor"]}, headers=owner.auth
    )
    assert pocs_cursor.status_code == 400


async def test_private_dojos_only_for_their_people(
    search: httpx.AsyncClient,
    dojos: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: InviteMember,
    make_dojo: MakeDojo,
    sync: Sync,
) -> None:
    owner = await sign_up()
    facilitator, guest, colleague = [await invite_member(owner) for _ in range(3)]
    admin = await invite_member(owner, role="admin")
    secret = await make_dojo(
        facilitator, name="Secret refactoring", is_private=True, tags=["hidden-tag"]
    )
    await make_dojo(facilitator, name="Open refactoring", tags=["open-tag"])
    await _invite_and_join(dojos, facilitator, guest, secret["dojo_id"])
    await sync()

    async def sees(who: Account) -> bool:
        body = await _find(search, who, q="refactoring")
        names = _names(body)
        assert "Open refactoring" in names
        assert body["total"] == len(names)
        tags = _facet(await _find(search, who), "tags")
        suggested = await search.get("/suggest/dojos", params={"q": "secr"}, headers=who.auth)
        hidden_tags = await search.get("/suggest/dojos", params={"q": "hidd"}, headers=who.auth)
        found = "Secret refactoring" in names
        assert found == ("hidden-tag" in tags)
        assert found == (suggested.json()["names"] == ["Secret refactoring"])
        assert found == (hidden_tags.json()["tags"] == ["hidden-tag"])
        return found

    # As in the dojo service: its facilitator, participants and tenant admins; nobody else.
    for who, expected in ((facilitator, True), (guest, True), (admin, True), (owner, True)):
        assert await sees(who) is expected
    assert await sees(colleague) is False
    listed = await dojos.get("/dojos", headers=colleague.auth)
    assert secret["dojo_id"] not in listed.text  # the dojo service agrees
    # Leaving ends it; making the dojo public shows it to everyone.
    await _act(dojos, guest, "POST", f"/dojos/{secret['dojo_id']}/leave")
    await sync()
    assert await sees(guest) is False
    await _act(
        dojos, facilitator, "PATCH", f"/dojos/{secret['dojo_id']}", json={"is_private": False}
    )
    await sync()
    assert await sees(colleague) is True


async def _relayed(
    owner_pool: asyncpg.Pool, sync: Sync, act: Callable[[], Awaitable[None]]
) -> list[Event]:
    """The events ``act`` makes the dojo service publish, caught on a bus of their own."""
    await sync()  # nothing else waits in the outbox
    await act()
    caught = InMemoryBus()
    await OutboxRelay(owner_pool, caught, keep_sent=None).drain()
    return caught.published


async def test_out_of_order_and_repeated_events_end_at_the_newest(
    search: httpx.AsyncClient,
    dojos: httpx.AsyncClient,
    dojos_owner_pool: asyncpg.Pool,
    sign_up: SignUp,
    invite_member: InviteMember,
    make_dojo: MakeDojo,
    sync: Sync,
) -> None:
    engine: Search = search.app.state.search  # type: ignore[attr-defined]
    owner = await sign_up()
    guests = [await invite_member(owner) for _ in range(3)]
    tenant = uuid.UUID(owner.tenant_id)
    made: dict[str, Any] = {}

    async def story() -> None:
        made.update(await make_dojo(owner, name="Draft", is_private=True))
        did = made["dojo_id"]
        for n, guest in enumerate(guests):
            await _invite_and_join(dojos, owner, guest, did)
            await _act(dojos, owner, "PATCH", f"/dojos/{did}", json={"name": f"Draft {n}"})
        await _act(dojos, guests[0], "POST", f"/dojos/{did}/leave")
        await _act(dojos, owner, "PATCH", f"/dojos/{did}", json={"name": "Final kata"})
        await _act(dojos, owner, "POST", f"/dojos/{did}/start")

    events = await _relayed(dojos_owner_pool, sync, story)
    kinds = {e.type for e in events}
    assert kinds == {
        "dojo.created", "dojo.participant.joined", "dojo.updated", "dojo.participant.left",
        "dojo.started",
    }  # fmt: skip
    newest = max(events, key=lambda e: e.version)
    assert newest.type == "dojo.started"
    for attempt in range(3):
        shuffled = events + random.sample(events, 4)  # with duplicates
        random.shuffle(shuffled)
        for start in range(0, len(shuffled), 3):
            await apply_events(engine, shuffled[start : start + 3])
        page = await engine.dojo_index.search(DojoQuery(tenant, uuid.UUID(owner.user_id)))
        doc = page.hits[0].document
        assert (doc.name, doc.status, doc.version) == ("Final kata", "active", newest.version)
        assert doc.participant_count == 3 == len(doc.participant_ids)
        assert uuid.UUID(guests[0].user_id) not in doc.participant_ids
        # Replaying everything again changes nothing.
        assert (await apply_events(engine, events))["applied"] == 0, attempt
    # A guest who left does not see the private dojo, whatever order events came in.
    left = await _find(search, guests[0], q="final")
    assert left["items"] == []
    stayed = await _find(search, guests[1], q="final")
    assert _names(stayed) == ["Final kata"]


async def test_tenant_b_never_sees_counts_or_is_suggested_tenant_a_dojos(
    search: httpx.AsyncClient, sign_up: SignUp, make_dojo: MakeDojo, sync: Sync
) -> None:
    a, b = await sign_up(), await sign_up()
    a_dojo = await make_dojo(a, name="Alpha kata night", tags=["shared-tag", "a-only"])
    await make_dojo(a, name="Alpha private kata", is_private=True, tags=["shared-tag"])
    await make_dojo(b, name="Beta kata night", tags=["shared-tag"])
    await sync()
    probes: list[dict[str, Any]] = [
        {},
        {"q": "kata"},
        {"q": "alpha"},
        {"q": "alpah nigth"},
        {"tags": ["shared-tag"]},
        {"tags": ["a-only"]},
        {"language": "python", "sort": "name"},
        {"status": ["scheduled", "active", "ended", "archived"]},
        {"tenant_id": a.tenant_id},  # ignored: the tenant comes from the token
        {"tenant": a.tenant_id, "q": "alpha"},
    ]
    for params in probes:
        body = await _find(search, b, **params)
        names = _names(body)
        assert all(n.startswith("Beta") for n in names), (params, names)
        assert body["total"] == len(names), params
        for facet in body["facets"].values():
            counts = {f["value"]: f["count"] for f in facet}
            assert "a-only" not in counts, params
            assert all(c <= 1 for c in counts.values()), (params, counts)
        assert a_dojo["dojo_id"] not in str(body)
    for q in ("alp", "alpha", "a-o", "shared", "kata"):
        response = await search.get("/suggest/dojos", params={"q": q}, headers=b.auth)
        assert response.status_code == 200
        body = response.json()
        assert not any(n.startswith("Alpha") for n in body["names"]), (q, body)
        assert "a-only" not in body["tags"], (q, body)
    # Positive control: A's owner (a tenant admin) finds both of A's.
    own = await _find(search, a, q="alpah")
    assert sorted(_names(own)) == ["Alpha kata night", "Alpha private kata"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/search/dojos", {"q": "x" * 201}, 422),
        ("/search/dojos", {"q": "nul\x00byte"}, 422),
        ("/search/dojos", {"status": "finished"}, 422),
        ("/search/dojos", {"status": ["active"] * 5}, 422),
        ("/search/dojos", {"tags": ["t"] * 11}, 422),
        ("/search/dojos", {"tags": ["x" * 51]}, 422),
        ("/search/dojos", {"language": ["x" * 51]}, 422),
        ("/search/dojos", {"sort": "random"}, 422),
        ("/search/dojos", {"limit": 0}, 422),
        ("/search/dojos", {"limit": 51}, 422),
        ("/search/dojos", {"limit": "many"}, 422),
        ("/search/dojos", {"cursor": "!!!"}, 400),
        ("/search/dojos", {"cursor": encode({"q": "x", "after": [0]})}, 400),
        ("/search/dojos", {"cursor": encode([1, 2])}, 400),
        ("/search/dojos", {"cursor": "c" * 501}, 422),
        ("/suggest/dojos", {}, 422),
        ("/suggest/dojos", {"q": ""}, 422),
        ("/suggest/dojos", {"q": "x" * 101}, 422),
        ("/suggest/dojos", {"q": "a", "limit": 21}, 422),
    ],
)
async def test_bad_dojo_queries(
    search: httpx.AsyncClient, sign_up: SignUp, path: str, params: dict, status: int
) -> None:
    owner = await sign_up()
    response = await search.get(path, params=params, headers=owner.auth)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_forged_positions_and_no_token(search: httpx.AsyncClient, sign_up: SignUp) -> None:
    from platform_api.search.routes_dojos import _fingerprint

    owner = await sign_up()
    q = DojoQuery(uuid.UUID(owner.tenant_id), uuid.UUID(owner.user_id), limit=1)
    for after in ([-1], [10_001], ["x"], [True], [1, 2], [None]):
        cursor = encode({"q": _fingerprint(q), "after": after})
        response = await search.get(
            "/search/dojos", params={"limit": 1, "cursor": cursor}, headers=owner.auth
        )
        assert response.status_code == 400, (after, response.text)
    for path in ("/search/dojos", "/suggest/dojos?q=a"):
        response = await search.get(path)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    for q in ('"', "a:b", "(x OR y", "*", "ção ✓ 日本語", "-", "c++ c#"):
        assert (
            await search.get("/search/dojos", params={"q": q}, headers=owner.auth)
        ).status_code == 200


async def test_a_dojo_language_saved_as_an_alias_is_found_by_it(
    search: httpx.AsyncClient, sign_up: SignUp, make_dojo: MakeDojo, sync: Sync
) -> None:
    """Dojos keep their language as typed; the filter's alias mapping must not lose them."""
    owner = await sign_up()
    await make_dojo(owner, name="Gophers", language="golang")
    await sync()
    assert _names(await _find(search, owner, language="golang")) == ["Gophers"]
