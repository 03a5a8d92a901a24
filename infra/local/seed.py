"""Demo data for the local stack: tenant "Mr Bill" (owner + member) and a second tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from platform_api.identity import members, service
from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel import Problem
from platform_api.kernel.auth import Principal


@dataclass(frozen=True)
class DemoUser:
    organization: str
    email: str
    password: str
    full_name: str
    invited_by: str | None = None  # e-mail of the owner who invites this member


DEMO_USERS = (
    DemoUser("Mr Bill", "bill@mrbill.dev", "mrbill-demo-2026", "Bill Gomes"),
    DemoUser(
        "Mr Bill", "ana@mrbill.dev", "mrbill-demo-2026", "Ana Souza", invited_by="bill@mrbill.dev"
    ),
    DemoUser("Acme Labs", "wile@acme.dev", "acme-demo-2026", "Wile Coyote"),
)


async def seed_identity(env: dict[str, str]) -> list[str]:
    """Create the demo accounts that do not exist yet; return what was created."""
    settings = IdentitySettings(
        database_url=env["IDENTITY_DATABASE_URL"],
        jwt_private_key_file=env["IDENTITY_JWT_PRIVATE_KEY_FILE"],
    )
    app = create_app(settings)
    created: list[str] = []
    async with app.router.lifespan_context(app):
        idn = app.state.identity
        sessions: dict[str, service.Session] = {}
        for user in DEMO_USERS:
            try:
                sessions[user.email] = await service.log_in(
                    idn, email=user.email, password=user.password, client="seed"
                )
                continue
            except Problem:
                pass
            if user.invited_by is None:
                _, sessions[user.email] = await service.sign_up(
                    idn,
                    organization=user.organization,
                    email=user.email,
                    password=user.password,
                    full_name=user.full_name,
                    client="seed",
                )
            else:
                owner = sessions[user.invited_by]
                who = Principal(owner.user_id, owner.tenant_id, ("owner",), "seed")
                _, token = await members.invite(idn, who, user.email, "member")
                await members.accept_invitation(
                    idn, token=token, full_name=user.full_name, password=user.password
                )
            created.append(user.email)
    return created


# Each service's seeder takes the stack's environment and returns what it created; they run
# in this order, so later ones may rely on the demo accounts.
SEEDERS: list[Callable[[dict[str, str]], Awaitable[list[str]]]] = [seed_identity]


async def seed_all(env: dict[str, str]) -> list[str]:
    created: list[str] = []
    for seeder in SEEDERS:
        created += await seeder(env)
    return created
