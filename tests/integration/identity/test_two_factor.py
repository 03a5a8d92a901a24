"""Two-step verification: an authenticator app's codes (TOTP) and one-time recovery codes."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import jwt
import pyotp

from platform_api.identity.app import create_app
from platform_api.identity.settings import IdentitySettings
from platform_api.identity.twofactor import STEP_SECONDS
from platform_api.kernel.provision import ServiceDatabase
from tests.harness.asgi import serve
from tests.harness.databases import tenant_connection
from tests.harness.identity import holding_the_user

from .conftest import PASSWORD, Account, SignUp
from .test_members import InviteMember
from .test_password_reset import NEW_PASSWORD

REQUIRED = "https://mrbill.dev/problems/two-factor-required"
INVALID = "https://mrbill.dev/problems/invalid-code"
EXPIRED = "https://mrbill.dev/problems/two-factor-expired"
CODE_REQUIRED = "https://mrbill.dev/problems/two-factor-code-required"


@dataclass
class TwoFactor:
    secret: str
    recovery_codes: list[str]
    used_step: int  # the step of the code that turned it on: refused from now on

    def code(self, step: int) -> str:
        return pyotp.TOTP(self.secret).generate_otp(step)


async def _turn_on(identity: httpx.AsyncClient, account: Account) -> TwoFactor:
    started = await identity.post(
        "/me/two-factor", json={"password": PASSWORD}, headers=account.auth
    )
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    step = int(time.time() // STEP_SECONDS)
    code = pyotp.TOTP(secret).generate_otp(step)
    confirmed = await identity.post(
        "/me/two-factor/confirm", json={"code": code}, headers=account.auth
    )
    assert confirmed.status_code == 200, confirmed.text
    return TwoFactor(secret, confirmed.json()["recovery_codes"], step)


async def _challenge(
    identity: httpx.AsyncClient, account: Account, password: str = PASSWORD, **headers: str
) -> str:
    answer = await identity.post(
        "/login", json={"email": account.email, "password": password}, headers=headers
    )
    assert answer.status_code == 401, answer.text
    problem = answer.json()
    assert problem["type"] == REQUIRED
    assert problem["expires_in"] == 300
    return str(problem["challenge"])


async def _second_step(identity: httpx.AsyncClient, challenge: str, code: str) -> httpx.Response:
    return await identity.post("/login/two-factor", json={"challenge": challenge, "code": code})


async def _me(identity: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    answer = await identity.get("/me", headers=account.auth)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["user"])


async def test_turning_it_on_takes_the_password_and_a_code_of_the_new_key(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    assert (await _me(identity, account))["two_factor"] is False
    wrong = await identity.post(
        "/me/two-factor", json={"password": "not the password"}, headers=account.auth
    )
    assert wrong.status_code == 403
    assert wrong.json()["type"] == "https://mrbill.dev/problems/wrong-password"
    early = await identity.post(
        "/me/two-factor/confirm", json={"code": "123456"}, headers=account.auth
    )
    assert early.status_code == 409
    assert early.json()["type"] == "https://mrbill.dev/problems/two-factor-not-started"

    started = await identity.post(
        "/me/two-factor", json={"password": PASSWORD}, headers=account.auth
    )
    assert started.status_code == 200
    setup = started.json()
    uri = pyotp.parse_uri(setup["otpauth_uri"])
    assert isinstance(uri, pyotp.TOTP)
    assert uri.secret == setup["secret"]
    assert uri.issuer == "Mr Bill"
    assert account.email in uri.name
    # Not in force until confirmed: the password alone still logs in.
    login = {"email": account.email, "password": PASSWORD}
    assert (await identity.post("/login", json=login)).status_code == 200
    bad = await identity.post(
        "/me/two-factor/confirm", json={"code": "000000"}, headers=account.auth
    )
    # (one chance in a million that 000000 is the code of the moment)
    assert bad.status_code == 400
    assert bad.json()["type"] == INVALID

    step = int(time.time() // STEP_SECONDS)
    code = pyotp.TOTP(setup["secret"]).generate_otp(step)
    confirmed = await identity.post(
        "/me/two-factor/confirm", json={"code": code}, headers=account.auth
    )
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    me = await _me(identity, account)
    assert (me["two_factor"], me["recovery_codes_left"]) == (True, 10)
    again = await identity.post("/me/two-factor", json={"password": PASSWORD}, headers=account.auth)
    assert again.status_code == 409
    assert again.json()["type"] == "https://mrbill.dev/problems/two-factor-on"


async def test_turning_it_on_ends_every_other_session_and_opens_a_new_one(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    # Another device, logged in with the password alone before the second step existed.
    other = await identity.post("/login", json={"email": account.email, "password": PASSWORD})
    assert other.status_code == 200, other.text
    before = [account.refresh_token, other.json()["refresh_token"]]

    started = await identity.post(
        "/me/two-factor", json={"password": PASSWORD}, headers=account.auth
    )
    code = pyotp.TOTP(started.json()["secret"]).now()
    confirmed = await identity.post(
        "/me/two-factor/confirm", json={"code": code}, headers=account.auth
    )
    assert confirmed.status_code == 200, confirmed.text
    session = confirmed.json()["session"]
    assert session["token_type"] == "Bearer"
    assert confirmed.cookies.get("mrbill_refresh") == session["refresh_token"]

    for token in before:
        refused = await identity.post("/token/refresh", json={"refresh_token": token})
        assert refused.status_code == 401, refused.text
    renewed = await identity.post(
        "/token/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text
    me = await identity.get("/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.json()["user"]["two_factor"] is True


async def test_the_new_session_carries_the_role_as_it_is_when_it_commits(
    identity: httpx.AsyncClient,
    identity_db: ServiceDatabase,
    sign_up: SignUp,
    invite_member: InviteMember,
) -> None:
    """An admin demoted while turning it on gets a session of a member, not of an admin."""
    owner = await sign_up()
    admin = await invite_member(owner, role="admin")
    started = await identity.post("/me/two-factor", json={"password": PASSWORD}, headers=admin.auth)
    code = {"code": pyotp.TOTP(started.json()["secret"]).now()}
    holder, held = await holding_the_user(identity_db, admin)
    try:
        confirming = asyncio.create_task(
            identity.post("/me/two-factor/confirm", json=code, headers=admin.auth)
        )
        await asyncio.sleep(0.3)  # it waits for the row
        demoted = "UPDATE users SET role = 'member' WHERE user_id = $1"
        await holder.execute(demoted, uuid.UUID(admin.user_id))
        await held.commit()
        confirmed = await confirming
    finally:
        await holder.close()
    assert confirmed.status_code == 200, confirmed.text
    claims = jwt.decode(
        confirmed.json()["session"]["access_token"], options={"verify_signature": False}
    )
    assert claims["roles"] == ["member"]


async def test_a_log_in_then_takes_a_code_each_good_once(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    challenge = await _challenge(identity, account)
    # The code that turned it on was used: it does not log in (nor does a wrong one).
    replayed = await _second_step(identity, challenge, on.code(on.used_step))
    assert replayed.status_code == 401
    assert replayed.json()["type"] == INVALID
    # The next step's code is still in the window (a phone's clock a little ahead).
    answer = await _second_step(identity, challenge, on.code(on.used_step + 1))
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    me = await identity.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    refreshed = await identity.post(
        "/token/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    # The challenge is spent, and that code too.
    assert (await _second_step(identity, challenge, on.code(on.used_step + 1))).json()[
        "type"
    ] == EXPIRED
    fresh = await _challenge(identity, account)
    assert (await _second_step(identity, fresh, on.code(on.used_step + 1))).status_code == 401


async def test_a_recovery_code_logs_in_once_whatever_its_case(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    code = on.recovery_codes[3]
    typed = code.upper().replace("-", " ")
    answer = await _second_step(identity, await _challenge(identity, account), typed)
    assert answer.status_code == 200, answer.text
    assert (await _me(identity, account))["recovery_codes_left"] == 9
    spent = await _second_step(identity, await _challenge(identity, account), code)
    assert spent.status_code == 401
    assert spent.json()["type"] == INVALID


async def test_five_wrong_codes_end_the_log_in(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    challenge = await _challenge(identity, account)
    for _ in range(4):
        wrong = await _second_step(identity, challenge, "aaaaa-aaaaa")
        assert (wrong.status_code, wrong.json()["type"]) == (401, INVALID)
    fifth = await _second_step(identity, challenge, "aaaaa-aaaaa")
    assert (fifth.status_code, fifth.json()["type"]) == (401, EXPIRED)
    right = await _second_step(identity, challenge, on.code(on.used_step + 1))
    assert right.json()["type"] == EXPIRED


async def test_a_challenge_expires_and_a_new_password_voids_it(
    identity: httpx.AsyncClient, identity_db: ServiceDatabase, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    challenge = await _challenge(identity, account)
    await _as_tenant(
        identity_db, account, "UPDATE two_factor_challenges SET expires_at = now() - interval '1 s'"
    )
    late = await _second_step(identity, challenge, on.code(on.used_step + 1))
    assert (late.status_code, late.json()["type"]) == (401, EXPIRED)

    # A password changed (or reset) while the code is awaited: the log-in with the old
    # password ends there.
    challenge = await _challenge(identity, account)
    change = {
        "current_password": PASSWORD,
        "new_password": "a changed password 12",
        "code": on.recovery_codes[-1],
    }
    assert (
        await identity.post("/me/password", json=change, headers=account.auth)
    ).status_code == 200
    voided = await _second_step(identity, challenge, on.code(on.used_step + 1))
    assert voided.json()["type"] == EXPIRED


async def test_new_recovery_codes_replace_the_old_and_turning_off_takes_a_code_too(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    renewed = await identity.post(
        "/me/two-factor/recovery-codes",
        json={"password": PASSWORD, "code": on.code(on.used_step + 1)},
        headers=account.auth,
    )
    assert renewed.status_code == 200
    new_codes = renewed.json()["recovery_codes"]
    assert not set(new_codes) & set(on.recovery_codes)
    old = await _second_step(identity, await _challenge(identity, account), on.recovery_codes[0])
    assert old.json()["type"] == INVALID
    new = await _second_step(identity, await _challenge(identity, account), new_codes[0])
    assert new.status_code == 200

    wrong = await identity.post(
        "/me/two-factor/disable", json={"password": "nope nope"}, headers=account.auth
    )
    assert wrong.status_code == 403
    # The password alone no longer does; nor does a wrong code, or one already used.
    for code, problem in (
        (None, CODE_REQUIRED),
        ("000000", INVALID),
        (on.code(on.used_step + 1), INVALID),
        (new_codes[0], INVALID),
    ):
        refused = await identity.post(
            "/me/two-factor/disable",
            json={"password": PASSWORD, "code": code},
            headers=account.auth,
        )
        assert (refused.status_code, refused.json()["type"]) == (403, problem)
    assert (await _me(identity, account))["two_factor"] is True
    off = await identity.post(
        "/me/two-factor/disable",
        json={"password": PASSWORD, "code": new_codes[1].upper()},  # (a lost phone)
        headers=account.auth,
    )
    assert off.status_code == 204
    me = await _me(identity, account)
    assert (me["two_factor"], me["recovery_codes_left"]) == (False, 0)
    login = {"email": account.email, "password": PASSWORD}
    assert (await identity.post("/login", json=login)).status_code == 200
    again = await identity.post(
        "/me/two-factor/disable", json={"password": PASSWORD}, headers=account.auth
    )
    assert (again.status_code, again.json()["type"]) == (
        409,
        "https://mrbill.dev/problems/two-factor-off",
    )


async def test_with_it_on_a_password_change_takes_a_code_too(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    alone = await identity.post("/me/password", json=change, headers=account.auth)
    assert (alone.status_code, alone.json()["type"]) == (403, CODE_REQUIRED)
    wrong_password = {**change, "current_password": "nope nope", "code": "000000"}
    refused = await identity.post("/me/password", json=wrong_password, headers=account.auth)
    assert refused.status_code == 403
    assert refused.json()["type"] != INVALID  # (the password is checked first)
    code = on.code(on.used_step + 1)
    changed = await identity.post(
        "/me/password", json={**change, "code": code}, headers=account.auth
    )
    assert changed.status_code == 200, changed.text
    # The code is spent: a log-in with the new password takes the next one.
    challenge = await _challenge(identity, account, password=NEW_PASSWORD)
    assert (await _second_step(identity, challenge, code)).json()["type"] == INVALID


async def test_with_it_on_deleting_the_account_takes_a_code_too(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    for path, extra in (("/tenant/delete", {"organization": "not asked yet"}), ("/me/delete", {})):
        alone = await identity.post(
            path, json={"password": PASSWORD, **extra}, headers=account.auth
        )
        assert (alone.status_code, alone.json()["type"]) == (403, CODE_REQUIRED)
    gone = await identity.post(
        "/me/delete",
        json={"password": PASSWORD, "code": f" {on.recovery_codes[0]} "},
        headers=account.auth,
    )
    assert gone.status_code == 204, gone.text
    login = {"email": account.email, "password": PASSWORD}
    assert (await identity.post("/login", json=login)).status_code == 401


async def test_an_owner_or_admin_turns_it_off_for_a_member_who_lost_the_phone(
    identity: httpx.AsyncClient, sign_up: SignUp, invite_member: InviteMember
) -> None:
    owner = await sign_up()
    admin = await invite_member(owner, "admin")
    member = await invite_member(owner)
    await _turn_on(identity, owner)
    await _turn_on(identity, member)
    listed = await identity.get("/users", headers=owner.auth)
    flags = {u["user_id"]: u["two_factor"] for u in listed.json()["items"]}
    assert flags == {owner.user_id: True, admin.user_id: False, member.user_id: True}

    # Who has it on is for owners and admins (and oneself) to see.
    seen = await identity.get("/users", headers=member.auth)
    flags = {u["user_id"]: u["two_factor"] for u in seen.json()["items"]}
    assert flags == {owner.user_id: None, admin.user_id: None, member.user_id: True}
    one = await identity.get(f"/users/{owner.user_id}", headers=member.auth)
    assert (one.json()["two_factor"], one.json()["recovery_codes_left"]) == (None, None)
    # Nobody turns their own off without the password, as an admin neither.
    own = await identity.post(f"/users/{owner.user_id}/two-factor/reset", headers=owner.auth)
    assert (own.status_code, own.json()["type"]) == (409, "https://mrbill.dev/problems/own-account")
    assert (await _me(identity, owner))["two_factor"] is True

    by_member = await identity.post(f"/users/{owner.user_id}/two-factor/reset", headers=member.auth)
    assert by_member.status_code == 403
    by_admin = await identity.post(f"/users/{owner.user_id}/two-factor/reset", headers=admin.auth)
    assert by_admin.status_code == 403
    reset = await identity.post(f"/users/{member.user_id}/two-factor/reset", headers=admin.auth)
    assert reset.status_code == 200
    assert (reset.json()["two_factor"], reset.json()["recovery_codes_left"]) == (False, 0)
    login = {"email": member.email, "password": PASSWORD}
    assert (await identity.post("/login", json=login)).status_code == 200
    unknown = await identity.post(
        "/users/00000000-0000-0000-0000-000000000000/two-factor/reset", headers=owner.auth
    )
    assert unknown.status_code == 404


async def test_recovery_codes_still_work_when_the_key_cannot_be_read(
    identity: httpx.AsyncClient, identity_db: ServiceDatabase, sign_up: SignUp
) -> None:
    """A key encrypted with a key no longer configured: the codes of the app fail, not the
    log-in; a recovery code gets the person in."""
    account = await sign_up()
    on = await _turn_on(identity, account)
    await _as_tenant(identity_db, account, "UPDATE users SET totp_secret = 'not a fernet token'")
    challenge = await _challenge(identity, account)
    totp = await _second_step(identity, challenge, on.code(on.used_step + 1))
    assert (totp.status_code, totp.json()["type"]) == (401, INVALID)
    assert (await _second_step(identity, challenge, on.recovery_codes[0])).status_code == 200


async def test_codes_have_a_daily_budget_per_password(
    identity_settings: IdentitySettings, sign_up: SignUp, run_id: str
) -> None:
    """Someone who knows the password gets a new challenge at every log-in: past the
    daily budget, no code is checked until the password changes."""
    settings = identity_settings.model_copy(
        update={
            "two_factor_codes_per_day": "3/day",
            "rate_limit_prefix": f"test-{run_id}-daily-{uuid.uuid4().hex[:6]}",
        }
    )
    async with serve(create_app(settings)) as capped:
        account = await sign_up()
        on = await _turn_on(capped, account)  # the first code checked
        for _ in range(2):
            wrong = await _second_step(capped, await _challenge(capped, account), "aaaaa-aaaaa")
            assert wrong.status_code == 401
        over = await _second_step(
            capped, await _challenge(capped, account), on.code(on.used_step + 1)
        )
        assert over.status_code == 429
        assert "Retry-After" in over.headers
        # The owner, signed in, has a budget of their own: the password changes (with a
        # code), and the new one starts a new log-in budget.
        change = {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "code": on.recovery_codes[0],
        }
        changed = await capped.post("/me/password", json=change, headers=account.auth)
        assert changed.status_code == 200, changed.text
        login = {"email": account.email, "password": NEW_PASSWORD}
        challenge = (await capped.post("/login", json=login)).json()["challenge"]
        assert (await _second_step(capped, challenge, on.code(on.used_step + 1))).status_code == 200


async def test_the_key_and_the_recovery_codes_are_not_stored_as_given(
    identity: httpx.AsyncClient, identity_db: ServiceDatabase, sign_up: SignUp
) -> None:
    account = await sign_up()
    on = await _turn_on(identity, account)
    stored = await _as_tenant(
        identity_db,
        account,
        "SELECT u.totp_secret, (SELECT array_agg(code_hash) FROM recovery_codes) AS hashes"
        " FROM users u",
    )
    secret, hashes = stored[0]["totp_secret"], stored[0]["hashes"]
    assert on.secret.encode() not in secret
    assert len(hashes) == 10
    for code in on.recovery_codes:
        assert all(
            code.encode() not in h and code.replace("-", "").encode() not in h for h in hashes
        )


async def test_the_code_step_speaks_the_readers_language(
    identity: httpx.AsyncClient, sign_up: SignUp
) -> None:
    account = await sign_up()
    await _turn_on(identity, account)
    answer = await identity.post(
        "/login",
        json={"email": account.email, "password": PASSWORD},
        headers={"Accept-Language": "pt-BR"},
    )
    assert answer.json()["detail"] == "Digite o código do seu aplicativo autenticador"
    wrong = await identity.post(
        "/login/two-factor",
        json={"challenge": answer.json()["challenge"], "code": "12"},
        headers={"Accept-Language": "pt-BR"},
    )
    assert wrong.json()["detail"] == "O código está errado ou expirou"


async def test_a_made_up_challenge_is_refused(identity: httpx.AsyncClient) -> None:
    for challenge in ("nonsense", "x" * 200):
        answer = await _second_step(identity, challenge, "123456")
        assert (answer.status_code, answer.json()["type"]) == (401, EXPIRED)
    too_long = await _second_step(identity, "x" * 201, "123456")
    assert too_long.status_code == 422


async def _as_tenant(db: ServiceDatabase, account: Account, sql: str) -> list[asyncpg.Record]:
    async with tenant_connection(db.app_dsn, account.tenant_id) as conn:
        return await conn.fetch(sql)
