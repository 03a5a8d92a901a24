"""Listing: keyset pagination in every sort order, filters, and cursors that are not ours."""

from __future__ import annotations

import unicodedata

import httpx
import pytest

from tests.harness.identity import SignUp
from tests.harness.pagination import encode

from .conftest import MakePoc

NAMES = ["delta", "Alpha", "charlie", "Bravo", "echo"]


async def _pages(
    client: httpx.AsyncClient, headers: dict[str, str], **params: object
) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/pocs", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([p["name"] for p in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_every_sort_pages_through_everything_once(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    owner = await sign_up()
    for name in NAMES:
        await make_poc(owner, name=name)
    expected = {
        "newest": NAMES[::-1],
        "oldest": NAMES,
        "updated": NAMES[::-1],
        "name": sorted(NAMES, key=str.lower),
    }
    for sort, order in expected.items():
        pages = await _pages(pocs, owner.auth, sort=sort)
        assert [n for page in pages for n in page] == order, sort
        assert [len(p) for p in pages] == [2, 2, 1]


async def test_filters(pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc) -> None:
    owner = await sign_up()
    await make_poc(owner, name="Py web", language="python", tags=["web", "api"], status="done")
    await make_poc(owner, name="Py cli", language="Python", tags=["cli"], visibility="tenant")
    await make_poc(owner, name="Go api", language="go", tags=["api", "web"])

    async def names(**params: object) -> set[str]:
        response = await pocs.get("/pocs", params=params, headers=owner.auth)
        assert response.status_code == 200, response.text
        return {p["name"] for p in response.json()["items"]}

    assert await names(language="PYTHON") == {"Py web", "Py cli"}
    assert await names(tag=["web", "api"]) == {"Py web", "Go api"}
    assert await names(tag=["web", "cli"]) == set()
    assert await names(status="done") == {"Py web"}
    assert await names(visibility="tenant") == {"Py cli"}
    assert await names(q="py") == {"Py web", "Py cli"}
    assert await names(q="%") == set()
    assert await names(scope="mine", language="go") == {"Go api"}
    assert await names(language="golang") == {"Go api"}  # the alias it was saved under
    assert await names(tag=["web", "web"]) == {"Py web", "Go api"}
    assert await names(tag=[" WEB "]) == {"Py web", "Go api"}


async def test_names_sort_among_their_letters_whatever_their_accents(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    owner = await sign_up()
    for name in ("Zebra", "Šimon", "Óculos", "abacate", "Łukasz", "Ética", "Árvore", "ábaco",
                 "Straße", "Strasbourg"):  # fmt: skip
        await make_poc(owner, name=name)
    pages = await _pages(pocs, owner.auth, sort="name")
    assert [name for page in pages for name in page] == [
        "abacate", "ábaco", "Árvore", "Ética", "Łukasz", "Óculos", "Šimon", "Strasbourg",
        "Straße", "Zebra",
    ]  # fmt: skip


async def test_text_is_kept_composed_and_found_either_way(
    pocs: httpx.AsyncClient, sign_up: SignUp, make_poc: MakePoc
) -> None:
    """Text pasted from a PDF or a Mac often spells "ç" as "c" and a combining cedilla: it is
    kept in the composed form, so a name, a tag or a filter typed either way is the same."""
    owner = await sign_up()
    decomposed = unicodedata.normalize("NFD", "Integração em São Paulo")
    created = await make_poc(owner, name=decomposed, tags=[unicodedata.normalize("NFD", "ação")],
                             language=unicodedata.normalize("NFD", "Pascal Objetivo ã"),
                             frameworks=[unicodedata.normalize("NFD", "Ação.js")],
                             description=unicodedata.normalize("NFD", "Integração"))  # fmt: skip
    assert created["name"] == "Integração em São Paulo"
    assert created["tags"] == ["ação"]
    assert created["language"] == "Pascal Objetivo ã"
    assert created["frameworks"] == ["Ação.js"]
    assert created["description"] == "Integração"

    async def names(**params: object) -> set[str]:
        response = await pocs.get("/pocs", params=params, headers=owner.auth)
        assert response.status_code == 200, response.text
        return {p["name"] for p in response.json()["items"]}

    found = {"Integração em São Paulo"}
    assert await names(q="Integração") == found
    assert await names(q=unicodedata.normalize("NFD", "São")) == found
    assert await names(tag=unicodedata.normalize("NFD", "Ação")) == found


async def test_a_name_longer_once_composed_is_refused_with_its_field(
    pocs: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    name = "\ufb2c" * 100  # 100 characters typed, 300 once composed
    response = await pocs.post("/pocs", json={"name": name}, headers=owner.auth)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "name"]]


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        encode([1]),
        encode({"sort": "newest", "key": "2024-01-01T00:00:00+00:00"}),
        encode({"sort": "name", "key": "a", "id": "00000000-0000-0000-0000-000000000000"}),
        encode(
            {"sort": "newest", "key": "yesterday", "id": "00000000-0000-0000-0000-000000000000"}
        ),
        encode({"sort": "newest", "key": 7, "id": "00000000-0000-0000-0000-000000000000"}),
        encode({"sort": "newest", "key": "2024-01-01T00:00:00+00:00", "id": "nope"}),
        encode(
            {
                "sort": "newest",
                "key": "0001-01-01T00:00:00+01:00",
                "id": "00000000-0000-0000-0000-000000000000",
            }
        ),
    ],
)
async def test_foreign_cursors_are_400(
    pocs: httpx.AsyncClient, sign_up: SignUp, cursor: str
) -> None:
    owner = await sign_up()
    response = await pocs.get("/pocs", params={"cursor": cursor}, headers=owner.auth)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    trash = await pocs.get("/trash", params={"cursor": cursor}, headers=owner.auth)
    assert trash.status_code == 400, trash.text
