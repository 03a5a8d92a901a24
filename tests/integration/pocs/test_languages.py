"""Problems are said in the language the request asks for (``Accept-Language``): Brazilian
Portuguese or English, English when nothing supported is asked for. The POC service stands
for every service here: they share the kernel's error handlers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from platform_api.pocs.settings import PocsSettings
from tests.harness.identity import SignUp

PT = {"Accept-Language": "pt-BR,pt;q=0.9,en;q=0.8"}


async def test_a_problem_is_said_in_portuguese_when_asked(
    pocs: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    missing = f"/pocs/{uuid.uuid4()}"
    response = await pocs.get(missing, headers={**owner.auth, **PT})
    assert response.status_code == 404
    assert response.json()["title"] == "Não encontrado"
    assert response.json()["detail"] == "POC não encontrada"
    assert response.headers["content-language"] == "pt-BR"
    assert "Accept-Language" in response.headers["vary"]

    english = await pocs.get(missing, headers=owner.auth)
    assert english.json()["detail"] == "POC not found"
    assert english.headers["content-language"] == "en"


@pytest.mark.parametrize(
    ("accept", "locale"),
    [
        ("pt", "pt-BR"),
        ("pt-PT", "pt-BR"),
        ("en-US,pt-BR;q=0.5", "en"),
        ("de-DE, pt-BR;q=0.3", "pt-BR"),
        ("de-DE, fr", "en"),
        ("pt-BR;q=0, en;q=0.1", "en"),
        ("pt-BR;q=abc", "en"),
        (";;,,", "en"),
    ],
)
async def test_the_preferred_supported_language_wins(
    pocs: httpx.AsyncClient, sign_up: SignUp, accept: str, locale: str
) -> None:
    owner = await sign_up()
    response = await pocs.get(
        f"/pocs/{uuid.uuid4()}", headers={**owner.auth, "Accept-Language": accept}
    )
    assert response.status_code == 404
    assert response.headers["content-language"] == locale


async def test_validation_errors_are_said_in_portuguese(
    pocs: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    body = {
        "name": "x" * 101,
        "tags": ["a" * 51],
        "started_on": "2024-02-01",
        "finished_on": "2024-01-01",
    }
    response = await pocs.post("/pocs", json=body, headers={**owner.auth, **PT})
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "A requisição não segue o esquema esperado"
    said = {tuple(e["loc"]): (e["type"], e["msg"]) for e in problem["errors"]}
    # pydantic's own error, by its type, with the limit from its context
    assert said[("body", "name")] == ("string_too_long", "Deve ter no máximo 100 caracteres")
    # a validator's message with a field of its own
    assert said[("body", "tags")] == ("value_error", "Uma tag tem no máximo 50 caracteres")

    empty = await pocs.post("/pocs", json={"name": ""}, headers={**owner.auth, **PT})
    [error] = empty.json()["errors"]
    assert error["msg"] == "Deve ter pelo menos 1 caractere"  # the singular

    english = await pocs.post("/pocs", json=body, headers=owner.auth)
    messages = {e["msg"] for e in english.json()["errors"]}
    assert "String should have at most 100 characters" in messages
    assert "Value error, a tag has at most 50 characters" in messages


async def test_a_rule_about_the_whole_request_is_said_in_portuguese(
    pocs: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    body = {"name": "ok", "started_on": "2024-02-01", "finished_on": "2024-01-01"}
    response = await pocs.post("/pocs", json=body, headers={**owner.auth, **PT})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["msg"] == "finished_on é anterior a started_on"


async def test_a_message_with_fields_keeps_them_in_portuguese(
    pocs: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    rows = [{"name": ""}, {"name": "ok"}]
    response = await pocs.post("/pocs/import", json=rows, headers={**owner.auth, **PT})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "1 de 2 linhas são inválidas; nada foi importado"
    [row] = response.json()["rejected"]
    assert row["errors"] == [
        {"loc": ["name"], "msg": "Deve ter pelo menos 1 caractere", "type": "string_too_short"}
    ]


async def test_an_oversize_body_is_refused_in_portuguese(
    pocs: httpx.AsyncClient, sign_up: SignUp, pocs_settings: PocsSettings
) -> None:
    owner = await sign_up()
    headers = {**owner.auth, **PT, "content-type": "application/json"}
    huge = b'{"name": "' + b"a" * 3_000_000 + b'"}'
    limit = pocs_settings.max_body_bytes
    said = f"O corpo da requisição excede {limit} bytes"

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: found while reading
        for start in range(0, len(huge), 65536):
            yield huge[start : start + 65536]

    for body in (huge, streamed()):
        response = await pocs.post("/pocs", content=body, headers=headers)
        assert response.status_code == 413
        assert response.json()["title"] == "Conteúdo grande demais"
        assert response.json()["detail"] == said
        assert response.headers["content-language"] == "pt-BR"


async def test_a_missing_token_is_said_in_portuguese(pocs: httpx.AsyncClient) -> None:
    response = await pocs.get("/pocs", headers=PT)
    assert response.status_code == 401
    assert response.json()["detail"] == "Token de acesso ausente ou inválido"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_bad_repository_url_says_why_in_portuguese(
    pocs: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner = await sign_up()
    body = {"name": "ok", "repository_url": "ftp://example.com/repo"}
    response = await pocs.post("/pocs", json=body, headers={**owner.auth, **PT})
    [error] = response.json()["errors"]
    assert (error["type"], error["msg"]) == (
        "url_scheme",
        "O esquema da URL deve ser 'http' ou 'https'",
    )
