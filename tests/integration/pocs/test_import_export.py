"""Bulk import (all rows or none, with a report) and export (CSV / JSON that imports back)."""

from __future__ import annotations

import csv
import io
import json

import httpx

from tests.harness.identity import SignUp

from .conftest import MakePoc

CSV = """name,language,tags,frameworks,status,visibility,repository_url,started_on,description
Kafka consumer,java,Streaming;Kafka,Spring Boot,done,tenant,https://github.com/x/kafka,2024-03-01,"Multi-line
description, with a comma"
Tiny parser,Rust,parsing,,idea,private,,,
"""


async def _count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return len((await client.get("/pocs", params={"limit": 100}, headers=headers)).json()["items"])


async def test_csv_import(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    headers = {**owner.auth, "content-type": "text/csv"}
    dry = await pocs.post("/pocs/import", params={"dry_run": True}, content=CSV, headers=headers)
    assert dry.status_code == 200, dry.text
    assert (dry.json()["accepted"], dry.json()["imported"]) == ([1, 2], [])
    assert await _count(pocs, owner.auth) == 0
    response = await pocs.post("/pocs/import", content=CSV.encode("utf-8-sig"), headers=headers)
    assert response.status_code == 201, response.text
    report = response.json()
    assert [r["row"] for r in report["imported"]] == [1, 2]
    kafka = (await pocs.get(f"/pocs/{report['imported'][0]['poc_id']}", headers=owner.auth)).json()
    assert kafka["tags"] == ["streaming", "kafka"]
    assert kafka["frameworks"] == ["Spring Boot"]
    assert kafka["language"] == "Java"
    assert kafka["description"] == "Multi-line\ndescription, with a comma"
    assert kafka["started_on"] == "2024-03-01"


async def test_one_bad_row_imports_nothing(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()
    rows = [
        {"name": "Good one", "tags": ["a"]},
        {"name": "", "tags": ["a"]},
        {"name": "Bad URL", "repository_url": "javascript:alert(1)"},
        {"name": "Good two"},
        "not an object",
    ]
    response = await pocs.post("/pocs/import", json=rows, headers=owner.auth)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["accepted"] == [1, 4]
    assert [r["row"] for r in problem["rejected"]] == [2, 3, 5]
    assert problem["rejected"][1]["errors"][0]["loc"] == ["repository_url"]
    assert await _count(pocs, owner.auth) == 0


async def test_bad_files(pocs: httpx.AsyncClient, sign_up: SignUp) -> None:
    owner = await sign_up()

    async def post(content: bytes, media: str) -> httpx.Response:
        return await pocs.post(
            "/pocs/import", content=content, headers={**owner.auth, "content-type": media}
        )

    assert (await post(b"name\nx", "text/plain")).status_code == 415
    assert (await post(b"\xff\xfe\x00", "text/csv")).status_code == 400
    assert (await post(b"nom,langue\nx,y", "text/csv")).status_code == 400
    assert (await post(b'{"name": "x"}', "application/json")).status_code == 400
    assert (await post(b"[{", "application/json")).status_code == 400
    deep = await post(b"[" * 50_000 + b"]" * 50_000, "application/json")  # Python's parser gives up
    assert (deep.status_code, deep.json()["detail"]) == (400, "The file is not valid JSON")
    extra = await post(b"name,language\nx,Go,surprise\n", "text/csv")
    assert extra.status_code == 422
    too_many = json.dumps([{"name": f"n{i}"} for i in range(51)]).encode()
    assert (await post(too_many, "application/json")).status_code == 413
    empty = await post(b"name\n", "text/csv")
    assert (empty.status_code, empty.json()["total"]) == (201, 0)


async def test_export_imports_back(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    owner, other = await sign_up(), await sign_up()
    await make_poc(owner, name='=HYPERLINK("http://evil")', tags=["x"], description="-1+1")
    await make_poc(owner, name="Second", language="go", frameworks=["Gin"], visibility="tenant")
    exported = await pocs.get("/pocs/export", params={"format": "csv"}, headers=owner.auth)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://evil")', "Second"]
    assert rows[0]["description"] == "'-1+1"
    imported = await pocs.post(
        "/pocs/import", content=exported.content, headers={**other.auth, "content-type": "text/csv"}
    )
    assert imported.status_code == 201, imported.text
    copies = (await pocs.get("/pocs", params={"sort": "oldest"}, headers=other.auth)).json()
    assert [p["name"] for p in copies["items"]] == ['=HYPERLINK("http://evil")', "Second"]
    assert copies["items"][0]["description"] == "-1+1"
    assert copies["items"][1]["frameworks"] == ["Gin"]

    as_json = await pocs.get("/pocs/export", params={"format": "json"}, headers=owner.auth)
    data = as_json.json()
    assert [p["name"] for p in data] == ['=HYPERLINK("http://evil")', "Second"]
    again = await pocs.post("/pocs/import", json=data, headers=other.auth)
    assert again.status_code == 201, again.text
    assert len(again.json()["imported"]) == 2
