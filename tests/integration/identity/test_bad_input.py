"""Bad input gets a clear 4xx problem+json, never a 500 or a stack trace."""

from __future__ import annotations

import json

import httpx
import pytest

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


async def test_malformed_json_is_400(identity: httpx.AsyncClient) -> None:
    response = await identity.post(
        "/login",
        content=b'{"email": "a@b.c", "password": ',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"email": 42, "password": "x"},
        {"email": "not-an-email", "password": "x"},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": "secret-pass", "admin": True},
        [],
        "just a string",
    ],
    ids=["wrong-type", "bad-email", "missing-field", "unknown-field", "array", "string"],
)
async def test_schema_violations_are_422_with_errors(
    identity: httpx.AsyncClient, body: object
) -> None:
    response = await identity.post("/login", json=body)
    problem = assert_problem(response, 422)
    assert problem["errors"], problem
    assert {"loc", "msg", "type"} <= set(problem["errors"][0])


async def test_short_password_on_signup_is_explained(identity: httpx.AsyncClient) -> None:
    response = await identity.post(
        "/signup",
        json={
            "organization": "X",
            "full_name": "Y",
            "email": "short@example.com",
            "password": "123",
        },
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body", "password"]


async def test_oversize_body_is_413(identity: httpx.AsyncClient) -> None:
    huge = b'{"email": "' + b"a" * 2_000_000 + b'@example.com", "password": "x"}'
    response = await identity.post(
        "/login", content=huge, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_oversize_body_without_content_length_is_413(identity: httpx.AsyncClient) -> None:
    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    response = await identity.post(
        "/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_unknown_route_and_wrong_method(identity: httpx.AsyncClient) -> None:
    assert_problem(await identity.get("/no/such/thing"), 404)
    assert_problem(await identity.get("/login"), 405)


async def test_malformed_path_id_is_422(identity: httpx.AsyncClient, sign_up) -> None:
    account = await sign_up()
    assert_problem(await identity.get("/users/not-a-uuid", headers=account.auth), 422)


async def test_health_and_metrics(identity: httpx.AsyncClient) -> None:
    assert (await identity.get("/healthz")).json() == {"status": "ok"}
    assert (await identity.get("/readyz")).json() == {"status": "ready"}
    metrics = await identity.get("/metrics")
    assert "http_requests_total" in metrics.text
    assert 'route="/healthz"' in metrics.text


@pytest.mark.parametrize("name", ["nul\x00byte", "bell\x07", "two\nlines", "\ud800lone"])
async def test_control_characters_in_names_are_422(identity: httpx.AsyncClient, name: str) -> None:
    body = {
        "organization": name,
        "full_name": "Y",
        "email": "ctl@example.com",
        "password": "long enough pw",
    }
    # json.dumps escapes a lone surrogate as \\ud800, which is valid JSON text.
    response = await identity.post(
        "/signup", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)


async def test_a_bad_email_is_explained_in_portuguese(identity: httpx.AsyncClient) -> None:
    body = {"email": "not-an-email", "password": "x"}
    response = await identity.post("/login", json=body, headers={"Accept-Language": "pt-BR"})
    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {"loc": ["body", "email"], "msg": "E-mail inválido", "type": "value_error"}
    ]
    english = (await identity.post("/login", json=body)).json()
    assert english["errors"][0]["msg"].startswith("value is not a valid email address")
