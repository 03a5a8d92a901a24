"""The API client against the real services: sessions, two-step log-in, tokens, errors,
offline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from mrbill_mobile.api import (
    INVALID_CODE,
    ApiClient,
    ApiError,
    AuthRequired,
    IdentityApi,
    Offline,
    PocsApi,
    TwoFactorExpired,
    TwoFactorRequired,
)
from mrbill_mobile.tokens import FileTokenStore, MemoryTokenStore

from tests.mobile.authenticator import Authenticator
from tests.mobile.conftest import Person


async def test_sign_up_log_out_and_log_in(
    new_client: Callable[..., ApiClient], person: Person, tmp_path
) -> None:
    store = FileTokenStore(tmp_path / "session.json")
    client = new_client(tokens=store)
    identity = IdentityApi(client)
    await identity.sign_up(person.organization, "Ana Souza", person.email, person.password)
    me = await identity.me()
    assert (me.email, me.tenant_name, me.role) == (person.email, person.organization, "owner")
    saved = (tmp_path / "session.json").read_text()
    assert store.load()
    assert person.password not in saved
    assert client.access_token not in saved
    assert oct((tmp_path / "session.json").stat().st_mode & 0o777) == "0o600"

    await identity.logout()
    assert store.load() is None
    assert client.access_token is None
    with pytest.raises(AuthRequired):
        await identity.me()

    await identity.login(person.email, person.password)
    assert (await identity.me()).email == person.email


async def test_wrong_password_is_a_problem(
    new_client: Callable[..., ApiClient], signed_in: ApiClient, person: Person
) -> None:
    with pytest.raises(ApiError) as caught:
        await IdentityApi(new_client()).login(person.email, "not the password")
    assert caught.value.status == 401
    assert "Invalid email or password" in caught.value.message


async def password_step(identity: IdentityApi, person: Person) -> TwoFactorRequired:
    """Log in with the password of an account with two-step verification on: its challenge."""
    with pytest.raises(TwoFactorRequired) as caught:
        await identity.login(person.email, person.password)
    return caught.value


async def test_log_in_with_two_step_verification(
    new_client: Callable[..., ApiClient], authenticator: Authenticator, person: Person, tmp_path
) -> None:
    """Password, then challenge, then the authenticator's code: a session like any other."""
    store = FileTokenStore(tmp_path / "session.json")
    client = new_client(tokens=store)
    identity = IdentityApi(client)
    required = await password_step(identity, person)
    assert not isinstance(required, AuthRequired)  # a step of the log-in, not a lost session
    assert required.status == 401
    assert required.challenge
    assert required.expires_in == 300
    assert required.message == "Enter the code from your authenticator app"
    assert client.access_token is None  # nothing yet
    assert store.load() is None

    await identity.login_two_factor(required.challenge, await authenticator.code())
    assert client.access_token
    assert store.load()  # the refresh token, from the body as for a plain log-in
    raw = await client.json("GET", "identity", "/me")
    assert (raw["user"]["email"], raw["user"]["two_factor"]) == (person.email, True)
    assert raw["user"]["recovery_codes_left"] == 10
    client._expires_at = 0  # and it refreshes like any session
    assert (await identity.me()).email == person.email

    with pytest.raises(TwoFactorExpired):  # a challenge is good for one log-in
        await identity.login_two_factor(required.challenge, await authenticator.code())


async def test_a_wrong_code_can_be_typed_again(
    new_client: Callable[..., ApiClient], authenticator: Authenticator, person: Person
) -> None:
    client = new_client()
    identity = IdentityApi(client)
    required = await password_step(identity, person)
    with pytest.raises(ApiError) as caught:
        await identity.login_two_factor(required.challenge, authenticator.wrong_code())
    wrong = caught.value
    assert not isinstance(wrong, AuthRequired | TwoFactorExpired)
    assert (wrong.status, wrong.type) == (401, INVALID_CODE)
    assert wrong.message == "The code is wrong or expired"
    assert client.access_token is None

    await identity.login_two_factor(required.challenge, await authenticator.code())  # same one
    assert (await identity.me()).email == person.email


async def test_five_wrong_codes_end_the_log_in(
    new_client: Callable[..., ApiClient], authenticator: Authenticator, person: Person
) -> None:
    """The fifth wrong code spends the challenge: back to the password, in the app's language."""
    identity = IdentityApi(new_client(language="pt-BR"))
    required = await password_step(identity, person)
    for _ in range(4):
        with pytest.raises(ApiError) as caught:
            await identity.login_two_factor(required.challenge, authenticator.wrong_code())
        assert caught.value.type == INVALID_CODE
    assert caught.value.message == "O código está errado ou expirou"
    with pytest.raises(TwoFactorExpired) as expired:
        await identity.login_two_factor(required.challenge, authenticator.wrong_code())
    assert expired.value.status == 401
    assert expired.value.message == "Este acesso expirou: digite sua senha de novo"
    with pytest.raises(TwoFactorExpired):  # the right code comes too late
        await identity.login_two_factor(required.challenge, await authenticator.code())

    again = await password_step(identity, person)  # the password opens a new one
    await identity.login_two_factor(again.challenge, await authenticator.code())


async def test_log_in_with_a_recovery_code(
    new_client: Callable[..., ApiClient], authenticator: Authenticator, person: Person
) -> None:
    """A recovery code instead of the app's (any case, spaced or not), good once."""
    client = new_client()
    identity = IdentityApi(client)
    recovery = authenticator.recovery_codes[0]
    assert len(authenticator.recovery_codes) == 10
    required = await password_step(identity, person)
    await identity.login_two_factor(required.challenge, recovery.upper().replace("-", " "))
    raw = await client.json("GET", "identity", "/me")
    assert raw["user"]["recovery_codes_left"] == 9

    other = IdentityApi(new_client())  # spent: the same code does not work twice
    required = await password_step(other, person)
    with pytest.raises(ApiError) as caught:
        await other.login_two_factor(required.challenge, recovery)
    assert caught.value.type == INVALID_CODE


async def test_resume_from_a_stored_refresh_token(
    new_client: Callable[..., ApiClient], signed_in: ApiClient, person: Person
) -> None:
    """A new launch: only the refresh token survived; it silently becomes a session."""
    store = MemoryTokenStore()
    store.save(signed_in.tokens.load() or "")
    again = IdentityApi(new_client(tokens=store))
    me = await again.resume()
    assert me is not None
    assert me.email == person.email
    assert store.load() != signed_in.tokens.load()  # rotated
    # The first client's refresh token was used by the second: presenting it again revokes
    # the login, so the first client must ask for a log-in.
    signed_in.access_token = "expired"
    with pytest.raises(AuthRequired):
        await IdentityApi(signed_in).me()


async def test_silent_refresh_on_expiry_and_on_401(signed_in: ApiClient) -> None:
    identity = IdentityApi(signed_in)
    first = signed_in.access_token
    signed_in._expires_at = 0  # about to expire: refreshed before the call
    await identity.me()
    second = signed_in.access_token
    assert second
    assert second != first

    signed_in.access_token = second[:-4] + "AAAA"  # rejected: refreshed after the 401
    await identity.me()
    assert signed_in.access_token not in (first, second)


async def test_concurrent_401s_refresh_once(signed_in: ApiClient) -> None:
    identity = IdentityApi(signed_in)
    signed_in.access_token = "garbage"
    signed_in._expires_at = 10**12
    results = await asyncio.gather(*(identity.me() for _ in range(5)))
    assert {r.email for r in results} == {results[0].email}


async def test_resume_without_a_token_is_none(new_client: Callable[..., ApiClient]) -> None:
    assert await IdentityApi(new_client()).resume() is None


async def test_validation_problem_maps_to_fields(signed_in: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        await PocsApi(signed_in).create({"name": "", "repository_url": "not a url"})
    error = caught.value
    assert error.status == 422
    assert set(error.field_errors) == {"name", "repository_url"}


async def test_problems_come_in_the_apps_language(
    new_client: Callable[..., ApiClient], signed_in: ApiClient, person: Person
) -> None:
    with pytest.raises(ApiError) as caught:
        await IdentityApi(new_client(language="pt-BR")).login(person.email, "not the password")
    assert caught.value.status == 401
    assert caught.value.message == "E-mail ou senha inválidos"
    with pytest.raises(ApiError) as caught:
        await PocsApi(new_client(language="pt-BR", tokens=signed_in.tokens)).create({"name": ""})
    assert caught.value.field_errors["name"] == "Deve ter pelo menos 1 caractere"


async def test_offline_is_reported_and_recovers(
    new_client: Callable[..., ApiClient], stack
) -> None:
    seen: list[bool] = []
    client = new_client()
    client.on_connectivity(seen.append)
    client.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(Offline):
        await IdentityApi(client).login("a@example.com", "whatever-password")
    assert client.online is False
    assert seen == [False]
    client.base_url = stack.base_url
    with pytest.raises(ApiError):
        await IdentityApi(client).login("a@example.com", "whatever-password")
    assert client.online is True
    assert seen == [False, True]
