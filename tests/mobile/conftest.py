"""Mobile app fixtures: the real services behind one base URL, and API clients for it.

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

from tests.mobile.stack import Stack, running_stack

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def stack(
    admin_dsn: str, redis_url: str, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(admin_dsn, redis_url, run_id, tmp_path_factory.mktemp("mobile")) as s:
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


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "mobile"
    path.mkdir(parents=True, exist_ok=True)
    return path
