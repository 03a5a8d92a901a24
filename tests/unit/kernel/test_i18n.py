"""The catalog of the services' messages: complete, current, and consistent with the source."""

from __future__ import annotations

import re

import pytest

from infra.local.messages import extract, load_catalog
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
