"""Create, read, update (ETag / If-Match), delete to the trash and restore."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from tests.harness.identity import Account, SignUp

from .conftest import MakePoc

InviteMember = Callable[..., Awaitable[Account]]


async def test_create_normalises_and_returns_etag(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    body = {
        "name": "  Realtime   Yjs editor ",
        "description": "# Notes\n\nMarkdown *works*.",
        "language": "typescript",
        "frameworks": ["React", "react", " Vite "],
        "tags": [" CRDT ", "crdt", "Real Time", "yjs"],
        "repository_url": "https://github.com/mrbill/yjs-editor",
        "status": "in_progress",
        "visibility": "tenant",
        "started_on": "2025-01-10",
    }
    response = await pocs.post("/pocs", json=body, headers=owner.auth)
    assert response.status_code == 201, response.text
    poc = response.json()
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/pocs/{poc['poc_id']}"
    assert poc["name"] == "Realtime Yjs editor"
    assert poc["language"] == "TypeScript"
    assert poc["frameworks"] == ["React", "Vite"]
    assert poc["tags"] == ["crdt", "real-time", "yjs"]
    assert (poc["owner_id"], poc["version"], poc["finished_on"]) == (owner.user_id, 1, None)
    fetched = await pocs.get(f"/pocs/{poc['poc_id']}", headers=owner.auth)
    assert fetched.json() == poc
    assert fetched.headers["etag"] == '"1"'


async def test_patch_needs_the_current_etag(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    owner = await sign_up()
    poc = await make_poc(owner, tags=["one"])
    url = f"/pocs/{poc['poc_id']}"
    missing = await pocs.patch(url, json={"status": "done"}, headers=owner.auth)
    assert missing.status_code == 428
    ok = await pocs.patch(
        url,
        json={"status": "done", "tags": ["Two", "three"], "description": None},
        headers={**owner.auth, "If-Match": '"1"'},
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    assert (ok.json()["status"], ok.json()["tags"]) == ("done", ["two", "three"])
    stale = await pocs.patch(
        url, json={"name": "Lost update"}, headers={**owner.auth, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["etag"] == '"2"'
    weak = await pocs.patch(url, json={"name": "x"}, headers={**owner.auth, "If-Match": 'W/"2"'})
    assert weak.status_code == 412
    star = await pocs.patch(url, json={"name": "Renamed"}, headers={**owner.auth, "If-Match": "*"})
    assert (star.status_code, star.json()["version"]) == (200, 3)


async def test_concurrent_patches_with_the_same_etag_one_wins(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    owner = await sign_up()
    poc = await make_poc(owner)
    headers = {**owner.auth, "If-Match": '"1"'}
    responses = await asyncio.gather(
        *(
            pocs.patch(f"/pocs/{poc['poc_id']}", json={"name": f"Writer {i}"}, headers=headers)
            for i in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412, 412]


async def test_patch_validation(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    owner = await sign_up()
    poc = await make_poc(owner, started_on="2025-02-01")
    url, headers = f"/pocs/{poc['poc_id']}", {**owner.auth, "If-Match": '"1"'}
    for body in ({"name": None}, {"tags": None}, {"owner_id": owner.user_id}, {"name": " "}):
        response = await pocs.patch(url, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
    before = await pocs.patch(url, json={"finished_on": "2025-01-01"}, headers=headers)
    assert before.status_code == 422
    assert "before" in before.json()["detail"]


async def test_visibility_and_ownership(
    pocs: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember, make_poc: MakePoc
) -> None:
    owner = await sign_up()
    colleague = await invite_member(owner)
    private = await make_poc(owner, name="Secret", visibility="private")
    shared = await make_poc(owner, name="Shared", visibility="tenant")
    assert (await pocs.get(f"/pocs/{private['poc_id']}", headers=colleague.auth)).status_code == 404
    assert (await pocs.get(f"/pocs/{shared['poc_id']}", headers=colleague.auth)).status_code == 200
    listed = (await pocs.get("/pocs", headers=colleague.auth)).json()["items"]
    assert [p["name"] for p in listed] == ["Shared"]
    headers = {**colleague.auth, "If-Match": "*"}
    edit = await pocs.patch(f"/pocs/{shared['poc_id']}", json={"name": "Mine"}, headers=headers)
    assert edit.status_code == 403
    assert (
        await pocs.delete(f"/pocs/{shared['poc_id']}", headers=colleague.auth)
    ).status_code == 403
    hidden = await pocs.patch(f"/pocs/{private['poc_id']}", json={"name": "x"}, headers=headers)
    assert hidden.status_code == 404


async def test_delete_to_trash_and_restore(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    owner = await sign_up()
    poc = await make_poc(owner, tags=["keep"])
    url = f"/pocs/{poc['poc_id']}"
    stale = await pocs.delete(url, headers={**owner.auth, "If-Match": '"9"'})
    assert stale.status_code == 412
    assert (await pocs.delete(url, headers=owner.auth)).status_code == 204
    assert (await pocs.get(url, headers=owner.auth)).status_code == 404
    assert (await pocs.delete(url, headers=owner.auth)).status_code == 404
    assert (await pocs.get("/pocs", headers=owner.auth)).json()["items"] == []
    trash = (await pocs.get("/trash", headers=owner.auth)).json()["items"]
    assert [t["poc_id"] for t in trash] == [poc["poc_id"]]
    assert trash[0]["purge_after"] > trash[0]["deleted_at"]
    restored = await pocs.post(f"/trash/{poc['poc_id']}/restore", headers=owner.auth)
    assert restored.status_code == 200, restored.text
    assert (restored.json()["version"], restored.json()["tags"]) == (3, ["keep"])
    again = await pocs.post(f"/trash/{poc['poc_id']}/restore", headers=owner.auth)
    assert again.status_code == 404
    assert (await pocs.get(url, headers=owner.auth)).status_code == 200
