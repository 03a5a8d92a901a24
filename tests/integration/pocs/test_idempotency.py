"""``Idempotency-Key`` on creating a POC and on importing a file: a retry gets the first
request's result and makes nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from platform_api.kernel import idempotency, tenant_transaction
from platform_api.pocs.service import PocsEraser, expire_idempotency_keys
from tests.harness.identity import Account, SignUp

CSV = "name,language,tags\nKafka consumer,java,streaming\nTiny parser,Rust,parsing\n"


async def _names(client: httpx.AsyncClient, who: Account) -> list[str]:
    page = await client.get("/pocs", params={"limit": 100, "scope": "mine"}, headers=who.auth)
    assert page.status_code == 200, page.text
    return sorted(item["name"] for item in page.json()["items"])


async def _created_events(pool: asyncpg.Pool, who: Account) -> int:
    async with tenant_transaction(pool, who.tenant_id) as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE type = 'poc.created' AND tenant_id = $1",
                uuid.UUID(who.tenant_id),
            )
        )


async def _keys(pool: asyncpg.Pool, who: Account) -> list[str]:
    async with tenant_transaction(pool, who.tenant_id) as conn:
        rows = await conn.fetch(
            "SELECT key FROM idempotency_keys WHERE tenant_id = $1 ORDER BY key",
            uuid.UUID(who.tenant_id),
        )
    return [r["key"] for r in rows]


async def test_a_retried_create_returns_the_first_poc(
    pocs: httpx.AsyncClient, sign_up: SignUp, owner_pool: asyncpg.Pool
) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "Idempotency-Key": "form-1"}
    body = {"name": "Ação em lote", "tags": ["batch"]}
    first = await pocs.post("/pocs", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await pocs.post("/pocs", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["poc_id"] == first.json()["poc_id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert await _names(pocs, owner) == ["Ação em lote"]
    assert await _created_events(owner_pool, owner) == 1
    async with tenant_transaction(owner_pool, owner.tenant_id) as conn:
        stored = await conn.fetchval(
            "SELECT result->>'poc_id' FROM idempotency_keys WHERE key = 'form-1'"
        )
    assert stored == first.json()["poc_id"]  # a JSON object, not a JSON string of one
    # Without a key, the same body is a new POC, as before.
    plain = await pocs.post("/pocs", json=body, headers=owner.auth)
    assert plain.status_code == 201
    assert await _names(pocs, owner) == ["Ação em lote", "Ação em lote"]


async def test_the_replay_is_the_poc_as_it_is_now(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "Idempotency-Key": "form-2"}
    first = await pocs.post("/pocs", json={"name": "Draft"}, headers=headers)
    poc_id = first.json()["poc_id"]
    changed = await pocs.patch(
        f"/pocs/{poc_id}",
        json={"status": "done"},
        headers={**owner.auth, "If-Match": first.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    again = await pocs.post("/pocs", json={"name": "Draft"}, headers=headers)
    assert again.json()["status"] == "done"
    assert again.headers["etag"] == changed.headers["etag"]  # good for the next If-Match


async def test_a_key_names_one_request(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "Idempotency-Key": "form-3", "Accept-Language": "pt-BR"}
    assert (await pocs.post("/pocs", json={"name": "One"}, headers=headers)).status_code == 201
    other = await pocs.post("/pocs", json={"name": "Two"}, headers=headers)
    assert other.status_code == 422, other.text
    problem = other.json()
    assert other.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "https://mrbill.dev/problems/idempotency-key-reuse"
    assert "Idempotency-Key" in problem["detail"]
    assert "outra" in problem["detail"]
    # Nor may an import reuse a create's key.
    imported = await pocs.post(
        "/pocs/import", content=CSV, headers={**headers, "content-type": "text/csv"}
    )
    assert imported.status_code == 422, imported.text
    assert await _names(pocs, owner) == ["One"]


async def test_keys_are_each_users_own(
    pocs: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: Callable[..., Awaitable[Account]],
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    stranger = await sign_up()
    made = []
    for who in (owner, member, stranger):
        response = await pocs.post(
            "/pocs", json={"name": "Same key"}, headers={**who.auth, "Idempotency-Key": "k"}
        )
        assert response.status_code == 201, response.text
        assert "idempotent-replayed" not in response.headers
        made.append(response.json()["poc_id"])
    assert len(set(made)) == 3


async def test_retries_at_once_make_one_poc(
    pocs: httpx.AsyncClient, sign_up: SignUp, owner_pool: asyncpg.Pool
) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "Idempotency-Key": "double-tap"}
    answers = await asyncio.gather(
        *(pocs.post("/pocs", json={"name": "Tapped twice"}, headers=headers) for _ in range(4))
    )
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["poc_id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    assert await _names(pocs, owner) == ["Tapped twice"]
    assert await _created_events(owner_pool, owner) == 1


async def test_a_retried_import_imports_once(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "content-type": "text/csv", "Idempotency-Key": "file-1"}
    # A dry run does nothing, so it does not take the key.
    dry = await pocs.post("/pocs/import", params={"dry_run": True}, content=CSV, headers=headers)
    assert dry.status_code == 200, dry.text
    first = await pocs.post("/pocs/import", content=CSV, headers=headers)
    assert first.status_code == 201, first.text
    again = await pocs.post("/pocs/import", content=CSV, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await _names(pocs, owner) == ["Kafka consumer", "Tiny parser"]
    # The same rows as JSON are another request.
    as_json = await pocs.post(
        "/pocs/import",
        json=[{"name": "Kafka consumer"}],
        headers={**owner.auth, "Idempotency-Key": "file-1"},
    )
    assert as_json.status_code == 422, as_json.text
    # A refused file does not take the key: fixed, it imports.
    bad = "name,language\n,java\n"
    headers["Idempotency-Key"] = "file-2"
    refused = await pocs.post("/pocs/import", content=bad, headers=headers)
    assert refused.status_code == 422, refused.text
    fixed = await pocs.post(
        "/pocs/import", content=bad.replace(",java", "Fixed,java"), headers=headers
    )
    assert fixed.status_code == 201, fixed.text
    assert await _names(pocs, owner) == ["Fixed", "Kafka consumer", "Tiny parser"]


async def test_a_malformed_key_is_refused(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    for key in ("with space", "x" * 201):
        response = await pocs.post(
            "/pocs", json={"name": "Nope"}, headers={**owner.auth, "Idempotency-Key": key}
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"][-1] == "Idempotency-Key"
    assert await _names(pocs, owner) == []


async def test_keys_expire_and_erasures_forget_them(
    pocs: httpx.AsyncClient,
    sign_up: SignUp,
    invite_member: Callable[..., Awaitable[Account]],
    owner_pool: asyncpg.Pool,
) -> None:
    owner = await sign_up()
    member = await invite_member(owner)
    for who, key in ((owner, "old"), (owner, "new"), (member, "theirs")):
        response = await pocs.post(
            "/pocs", json={"name": key}, headers={**who.auth, "Idempotency-Key": key}
        )
        assert response.status_code == 201, response.text
    async with tenant_transaction(owner_pool, owner.tenant_id) as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'"
        )
    assert await expire_idempotency_keys(owner_pool) >= 1
    assert await _keys(owner_pool, owner) == ["new", "theirs"]
    # An expired key is a new request again.
    reused = await pocs.post(
        "/pocs", json={"name": "old again"}, headers={**owner.auth, "Idempotency-Key": "old"}
    )
    assert "idempotent-replayed" not in reused.headers
    eraser = PocsEraser(owner_pool)
    await eraser.erase_user(uuid.UUID(member.tenant_id), uuid.UUID(member.user_id))
    assert await _keys(owner_pool, owner) == ["new", "old"]
    await eraser.erase_tenant(uuid.UUID(owner.tenant_id))
    assert await _keys(owner_pool, owner) == []


async def test_a_poc_deleted_since_is_not_replayed_as_made(
    pocs: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "Idempotency-Key": "form-trash"}
    first = await pocs.post("/pocs", json={"name": "Binned"}, headers=headers)
    deleted = await pocs.delete(
        f"/pocs/{first.json()['poc_id']}", headers={**owner.auth, "If-Match": first.headers["etag"]}
    )
    assert deleted.status_code == 204, deleted.text
    again = await pocs.post("/pocs", json={"name": "Binned"}, headers=headers)
    assert again.status_code == 404, again.text
    assert await _names(pocs, owner) == []


async def test_a_retry_waits_for_the_first_request_a_while_then_is_told_to_come_back(
    pocs: httpx.AsyncClient,
    sign_up: SignUp,
    owner_pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(idempotency, "LOCK_WAIT_SECONDS", 1)
    owner = await sign_up()
    async with owner_pool.acquire() as conn, conn.transaction():
        # The first request with this key, still at work (it holds the key's lock).
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 19))",
            f"{owner.tenant_id}:{owner.user_id}:slow-import",
        )
        busy = await pocs.post(
            "/pocs",
            json={"name": "Meanwhile"},
            headers={**owner.auth, "Idempotency-Key": "slow-import", "Accept-Language": "pt-BR"},
        )
    assert busy.status_code == 409, busy.text
    assert busy.headers["retry-after"] == "1"
    assert "em andamento" in busy.json()["detail"]
    assert await _names(pocs, owner) == []
    done = await pocs.post(
        "/pocs",
        json={"name": "Meanwhile"},
        headers={**owner.auth, "Idempotency-Key": "slow-import"},
    )
    assert done.status_code == 201, done.text
