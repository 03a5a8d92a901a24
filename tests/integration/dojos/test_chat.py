"""Chat input: what a message must hold."""

from __future__ import annotations

import pytest

from tests.integration.conftest import SignUp

from .conftest import Stack, dojo_body


async def test_a_blank_message_is_refused(stack: Stack, sign_up: SignUp) -> None:
    bill = await sign_up()
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body()))["dojo_id"]
    for blank in (" ", "\n\n", " \t "):
        refused = await stack.call("POST", f"/dojos/{did}/messages", bill, json={"text": blank})
        assert refused.status_code == 422, blank
        assert refused.json()["errors"][0]["msg"].endswith("a message cannot be blank")
    assert (await stack.ok("GET", f"/dojos/{did}/messages", bill))["items"] == []
    said = await stack.ok("POST", f"/dojos/{did}/messages", bill, 201, json={"text": " hi "})
    assert said["text"] == " hi "  # kept as written


@pytest.mark.parametrize(
    "blank",
    [
        "\u200b",  # zero width space
        "\u2060 \u2060",  # word joiner
        "\ufeff",  # byte order mark
        "\u2800\u2800",  # Braille blank
        "\u3164",  # Hangul filler
        "\u200e\u200f\u00ad",  # direction marks, soft hyphen (format characters)
        "\u200d\n\ufe0f",  # joiner, variation selector
    ],
)
async def test_a_message_of_invisible_characters_is_refused(
    stack: Stack, sign_up: SignUp, blank: str
) -> None:
    bill = await sign_up()
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body()))["dojo_id"]
    refused = await stack.call("POST", f"/dojos/{did}/messages", bill, json={"text": blank})
    assert refused.status_code == 422, repr(blank)
    assert refused.json()["errors"][0]["msg"].endswith("a message cannot be blank")


async def test_a_message_with_something_visible_is_taken(stack: Stack, sign_up: SignUp) -> None:
    bill = await sign_up()
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body()))["dojo_id"]
    for text in ("\u200bok", "\U0001f44d\ufe0f", "\u2764\ufe0f", "\U0001f468\u200d\U0001f4bb"):
        said = await stack.ok("POST", f"/dojos/{did}/messages", bill, 201, json={"text": text})
        assert said["text"] == text


async def test_the_refusal_speaks_portuguese(stack: Stack, sign_up: SignUp) -> None:
    bill = await sign_up()
    did = (await stack.ok("POST", "/dojos", bill, 201, json=dojo_body()))["dojo_id"]
    refused = await stack.client.post(
        f"/dojos/{did}/messages",
        json={"text": "  "},
        headers={**bill.auth, "Accept-Language": "pt-BR"},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["msg"].endswith("a mensagem não pode ficar em branco")
