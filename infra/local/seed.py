"""Demo data for the local stack: tenant "Mr Bill" (owner + member, their POCs, a dojo)
and a second tenant with a few POCs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from platform_api.identity import members, service
from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from platform_api.kernel import KeySet, Problem, tenant_transaction
from platform_api.kernel.auth import Principal
from platform_api.pocs import service as poc_service
from platform_api.pocs import store
from platform_api.pocs.app import create_app as create_pocs_app
from platform_api.pocs.schemas import PocIn
from platform_api.pocs.settings import PocsSettings

from .demo_pocs import DEMO_POCS


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


async def seed_pocs(env: dict[str, str]) -> list[str]:
    """Register the demo POCs of users who have none yet, through the POC use cases.

    Their ``poc.created`` events wait in the outbox; the ``pocs-worker`` process relays them
    to Redis and the search service indexes them as soon as the stack runs.
    """
    identity_app = create_app(
        IdentitySettings(
            database_url=env["IDENTITY_DATABASE_URL"],
            jwt_private_key_file=env["IDENTITY_JWT_PRIVATE_KEY_FILE"],
        )
    )
    pocs_app = create_pocs_app(
        PocsSettings(database_url=env["POCS_DATABASE_URL"]), keys=KeySet(static_keys=[])
    )
    created: list[str] = []
    async with (
        identity_app.router.lifespan_context(identity_app),
        pocs_app.router.lifespan_context(pocs_app),
    ):
        passwords = {user.email: user.password for user in DEMO_USERS}
        for email, pocs in DEMO_POCS.items():
            session = await service.log_in(
                identity_app.state.identity, email=email, password=passwords[email], client="seed"
            )
            who = Principal(session.user_id, session.tenant_id, ("member",), "seed")
            svc = pocs_app.state.pocs
            async with tenant_transaction(svc.pool, who.tenant_id) as conn:
                mine = store.ListFilter(viewer_id=who.user_id, mine_only=True)
                if await store.list_pocs(conn, mine, sort="newest", limit=1, after=None):
                    continue
            for data in pocs:
                await poc_service.create_poc(svc, who, PocIn(**{"visibility": "tenant", **data}))
            created.append(f"{len(pocs)} POCs of {email}")
    return created


DEMO_DOJO = "FizzBuzz randori"
DEMO_KATA = """# FizzBuzz

Write `fizzbuzz(n)`: return *Fizz* for multiples of 3, *Buzz* for multiples of 5,
*FizzBuzz* for both, else the number as text. One test at a time; the driver changes
every five minutes.
"""
DEMO_CODE = """def fizzbuzz(n: int) -> str:
    return str(n)


def test_one():
    assert fizzbuzz(1) == "1"
"""


async def _demo_sessions(env: dict[str, str], emails: list[str]) -> dict[str, service.Session]:
    settings = IdentitySettings(
        database_url=env["IDENTITY_DATABASE_URL"],
        jwt_private_key_file=env["IDENTITY_JWT_PRIVATE_KEY_FILE"],
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        by_email = {u.email: u for u in DEMO_USERS}
        return {
            email: await service.log_in(
                app.state.identity, email=email, password=by_email[email].password, client="seed"
            )
            for email in emails
        }


async def seed_dojos(env: dict[str, str]) -> list[str]:
    """A scheduled randori in "Mr Bill": bill facilitates, ana navigates."""
    from platform_api.dojos import DojosSettings, build_context
    from platform_api.dojos import participants as dojo_participants
    from platform_api.dojos import service as dojos
    from platform_api.dojos.collab import MemoryCollab
    from platform_api.kernel import tenant_transaction

    sessions = await _demo_sessions(env, ["bill@mrbill.dev", "ana@mrbill.dev"])
    bill, ana = sessions["bill@mrbill.dev"], sessions["ana@mrbill.dev"]
    settings = DojosSettings(database_url=env["DOJOS_DATABASE_URL"], run_worker=False)
    # Nothing reaches a room before the start: no collab node is needed to seed.
    async with build_context(settings, collab=MemoryCollab()) as ctx:
        async with tenant_transaction(ctx.pool, bill.tenant_id) as conn:
            if await conn.fetchval("SELECT 1 FROM dojos WHERE name = $1", DEMO_DOJO):
                return []
        who_bill = Principal(bill.user_id, bill.tenant_id, ("owner",), "seed")
        who_ana = Principal(ana.user_id, ana.tenant_id, ("member",), "seed")
        fields = {
            "name": DEMO_DOJO,
            "description": DEMO_KATA,
            "language": "Python",
            "initial_code": DEMO_CODE,
            "format": "randori",
            "planned_minutes": 60,
            "rotation_seconds": 300,
            "max_participants": 12,
            "tags": ["kata", "tdd"],
        }
        dojo = await dojos.create(ctx, who_bill, fields, "Bill Gomes")
        _, code = await dojo_participants.create_invite(
            ctx, who_bill, dojo["dojo_id"], "navigator", None
        )
        await dojo_participants.join(ctx, who_ana, code, "Ana Souza")
    return [f"dojo {DEMO_DOJO!r}"]


# Each service's seeder takes the stack's environment and returns what it created; they run
# in this order, so later ones may rely on the demo accounts.
Seeder = Callable[[dict[str, str]], Awaitable[list[str]]]
SEEDERS: list[Seeder] = [
    seed_identity,
    seed_pocs,
    seed_dojos,
]


async def seed_all(env: dict[str, str], seeders: list[Seeder] | None = None) -> list[str]:
    """Run ``seeders`` (all of them by default) in order; return what they created."""
    created: list[str] = []
    for seeder in SEEDERS if seeders is None else seeders:
        created += await seeder(env)
    return created
