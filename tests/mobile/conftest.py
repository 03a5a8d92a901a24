"""Mobile app fixtures: the real services behind one base URL, API clients for it, an
authenticator app for two-step verification, and a colleague who runs dojos through the real
dojo API.

Screens run on Toga's dummy backend (no display); the screenshot test starts its own
process with the Qt backend.
"""

from __future__ import annotations

import os

os.environ["TOGA_BACKEND"] = "toga_dummy"  # before anything imports toga

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mrbill_mobile.api import ApiClient, IdentityApi
from mrbill_mobile.tokens import MemoryTokenStore

from tests.harness.collab import Mint, mint, ticket_key
from tests.mobile.authenticator import Authenticator, turn_on
from tests.mobile.facilitator import Facilitator
from tests.mobile.stack import Stack, running_stack

__all__ = ["Mint", "mint", "ticket_key"]  # the dojo service's ticket key, shared with `mint`

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def stack(
    admin_dsn: str,
    redis_url: str,
    run_id: str,
    tmp_path_factory: pytest.TempPathFactory,
    ticket_key: tuple[str, str],
) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("mobile")
    with running_stack(admin_dsn, redis_url, run_id, data, ticket_key) as s:
        yield s


@dataclass
class Person:
    email: str
    password: str
    organization: str


MakeClient = Callable[..., Awaitable[ApiClient]]


@pytest.fixture
async def new_client(stack: Stack) -> AsyncIterator[Callable[..., ApiClient]]:
    """Factory: an API client for the test stack (memory token store unless one is given)."""
    clients: list[ApiClient] = []

    def make(**kwargs: object) -> ApiClient:
        kwargs.setdefault("tokens", MemoryTokenStore())
        client = ApiClient(stack.base_url, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def person() -> Person:
    return Person(f"m-{uuid.uuid4().hex[:10]}@example.com", PASSWORD, f"Org {uuid.uuid4().hex[:6]}")


@pytest.fixture
async def signed_in(new_client: Callable[..., ApiClient], person: Person) -> ApiClient:
    """A client for a brand-new tenant's owner, signed up through the API."""
    client = new_client()
    await IdentityApi(client).sign_up(person.organization, "Mobile Tester", person.email, PASSWORD)
    return client


@pytest.fixture
async def authenticator(signed_in: ApiClient) -> Authenticator:
    """Two-step verification turned on for the signed-up owner: their authenticator app."""
    return await turn_on(signed_in, PASSWORD)


@pytest.fixture
async def facilitator(
    signed_in: ApiClient, new_client: Callable[..., ApiClient]
) -> AsyncIterator[Facilitator]:
    """A colleague in the signed-up owner's organization (invited and accepted through the
    identity API) who creates and runs dojos with the real dojo API."""
    email = f"f-{uuid.uuid4().hex[:10]}@example.com"
    invitation = await signed_in.json(
        "POST", "identity", "/invitations", json={"email": email, "role": "member"}
    )
    client = new_client()
    accepted = await client.json(
        "POST", "identity", "/invitations/accept", auth=False,
        json={"token": invitation["token"], "full_name": "Fatima Facilitator", "password": PASSWORD},
    )  # fmt: skip
    client.adopt(accepted["tokens"])
    colleague = Facilitator(client)
    yield colleague
    await colleague.aclose()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "mobile"
    path.mkdir(parents=True, exist_ok=True)
    return path
