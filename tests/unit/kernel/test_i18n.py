"""The catalog of the services' messages: complete, current, and consistent with the source."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from infra.local.messages import extract, load_catalog
from platform_api.kernel.errors import (
    install_error_handlers,
    problem_response,
    validation_message,
)
from platform_api.kernel.i18n import VALIDATION, Invalid, fields, negotiate, translate


def test_every_message_said_has_a_translation() -> None:
    catalog = load_catalog()
    messages = extract()
    assert len(messages.found) > 100  # the extraction sees the services' messages
    untranslated = [m for m in messages.found if not (e := catalog.get(m)) or not e.string]
    assert not untranslated, f"run ./mrbill messages, then translate: {untranslated}"


def test_no_message_is_computed() -> None:
    # An f-string cannot be looked up in the catalog: fields go in ``params``.
    assert extract().unfit == []


def test_the_catalog_holds_no_message_no_longer_said() -> None:
    said = set(extract().found)
    stale = [
        str(m.id) for m in load_catalog() if m.id and m.context != VALIDATION and m.id not in said
    ]
    assert not stale, f"run ./mrbill messages: {stale}"


def test_translations_keep_the_fields_of_their_message() -> None:
    for message in load_catalog():
        if not message.id or message.context == VALIDATION:
            continue
        assert fields(str(message.string)) == fields(str(message.id)), message.id


def test_validation_translations_use_only_the_fields_of_their_error() -> None:
    for message in load_catalog():
        if message.context != VALIDATION:
            continue
        [english] = [c for c in message.auto_comments if c.startswith("pydantic: ")]
        assert message.string, message.id
        assert fields(str(message.string)) <= fields(english), message.id


def test_placeholders_in_the_catalog_are_well_formed() -> None:
    for message in load_catalog():
        for text in (str(message.id), str(message.string)):
            assert not re.search(r"\{[^}]*\{|\}[^{]*\}", text.replace("{}", "")), text


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("pt-BR", "pt-BR"),
        ("PT-br", "pt-BR"),
        ("en-GB,pt;q=0.9", "en"),
        ("es, pt;q=0.2", "pt-BR"),
        ("*", "en"),
        ("pt;q=-1", "en"),
    ],
)
def test_negotiate(header: str | None, locale: str) -> None:
    assert negotiate(header) == locale


def test_translate_fills_fields_after_translating() -> None:
    assert translate("An import holds at most {limit} rows", "en", {"limit": 5}) == (
        "An import holds at most 5 rows"
    )
    said = translate("An import holds at most {limit} rows", "pt-BR", {"limit": 5})
    assert "5" in said
    assert said != "An import holds at most 5 rows"


def test_a_message_missing_from_the_catalog_stays_english() -> None:
    assert translate("Nobody wrote this {x}", "pt-BR", {"x": 1}) == "Nobody wrote this 1"
    # a field the caller did not give is left as it is, not an error
    assert translate("Nobody wrote this {x}", "pt-BR", {"y": 1}) == "Nobody wrote this {x}"


def test_invalid_is_english_where_raised() -> None:
    error = Invalid("at most {limit} tags", limit=20)
    assert isinstance(error, ValueError)
    assert str(error) == "at most 20 tags"
    assert translate(error.template, "pt-BR", error.params) != str(error)


def test_the_extraction_finds_messages_and_reports_computed_ones(tmp_path: Path) -> None:
    source = tmp_path / "platform_api" / "x.py"
    source.parent.mkdir()
    source.write_text(
        """
GONE = N_("It is gone")
BY_STATE = {"a": N_("State A"), "b": N_("State B")}
UNMARKED = "Said in English for ever"

def f(exc, what, n):
    raise Problem(409, "A literal")
    raise Problem(409, detail="A keyword", title="A title")
    raise not_found("Widget")
    raise forbidden()
    raise Invalid(N_("at most {limit} things"), limit=n)
    raise Problem(409, GONE)
    raise Problem(409, BY_STATE[what])
    raise Problem(422, exc.template, params=exc.params)
    raise Problem(409, f"The thing is {what}")
    raise Problem(409, "Bad: " + str(exc))
    raise Problem(409, str(exc))
    raise Problem(409, UNMARKED)
    raise Invalid("not marked")
"""
    )
    messages = extract(tmp_path)
    assert set(messages.found) == {
        "It is gone",
        "State A",
        "State B",
        "A literal",
        "A keyword",
        "A title",
        "Widget not found",
        "at most {limit} things",
        "not marked",
    }
    assert [line.split(": ")[0] for line in messages.unfit] == [
        f"platform_api/x.py:{n}" for n in (15, 16, 17, 18)
    ]


def test_a_problem_keeps_its_own_headers_and_vary() -> None:
    response = problem_response(
        429, "Too many", headers={"Retry-After": "3", "vary": "If-Match"}, locale="pt-BR"
    )
    assert response.headers["retry-after"] == "3"
    assert response.headers["vary"] == "If-Match, Accept-Language"
    assert response.headers["content-language"] == "pt-BR"


def test_validation_messages_in_portuguese() -> None:
    def said(kind: str, **ctx: object) -> str:
        return validation_message({"type": kind, "msg": "(English)", "ctx": ctx}, "pt-BR")

    assert said("enum", expected="'report' or 'video'") == "Deve ser 'report' ou 'video'"
    # only a limit of one is said in the singular, not any other detail that is one
    assert said("too_short", field_type="List", min_length=3, actual_length=1) == (
        "Deve ter pelo menos 3 itens"
    )
    assert said("too_short", field_type="List", min_length=1, actual_length=0) == (
        "Deve ter pelo menos 1 item"
    )
    assert said("no_such_type") == "(English)"  # an error type the catalog lacks


def test_a_template_that_cannot_be_filled_is_never_an_error() -> None:
    assert translate("{limit:d} rows", "en", {"limit": None}) == "{limit:d} rows"
    assert translate("a { brace {n}", "en", {"n": 1}) == "a { brace {n}"
    error = Invalid("{message} is taken", message="it")  # (a field may be called message)
    assert str(error) == "it is taken"


@pytest.mark.parametrize("error", [asyncpg.DeadlockDetectedError, asyncpg.SerializationError])
async def test_a_transaction_rolled_back_by_a_collision_is_a_503_to_retry(error: type) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/collide")
    async def collide() -> None:
        raise error("deadlock detected")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.get("/collide", headers={"Accept-Language": "pt-BR"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == (
        "A requisição colidiu com outra e nada foi alterado; tente de novo"
    )
