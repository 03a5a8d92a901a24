"""Two-step verification: codes from an authenticator app (TOTP, RFC 6238) and one-time
recovery codes.

Turning it on takes the password, then a code from the app (so the app surely has the
key); the answer is ten recovery codes, shown once, and a new session: every other session
of the account ends (an access token already issued, as after a password change, lives out
its minutes). With it on, a right password at log-in opens a challenge
(``service.log_in``) that a code turns into a session. The key is stored
encrypted (``IDENTITY_TWO_FACTOR_KEYS``), the recovery codes as keyed hashes; a code is good
once (the last time step used is kept), and a challenge takes five wrong codes at most.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import pyotp
import structlog

from platform_api.kernel import Problem, forbidden, not_found, tenant_transaction, unauthorized
from platform_api.kernel.auth import Principal
from platform_api.kernel.i18n import N_

from . import store
from .security import parse_opaque_token
from .service import ADMIN_ROLES, Identity, Session, _start_session, acting_role, password_attempt

_log = structlog.get_logger("identity.two_factor")
ISSUER = "Mr Bill"
STEP_SECONDS = 30
RECOVERY_CODES = 10
MAX_CODE_FAILURES = 5
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_TOTP_CODE = re.compile(r"[0-9]{6}")  # (\d would take any script's digits)

WRONG_PASSWORD = "https://mrbill.dev/problems/wrong-password"  # noqa: S105 - a problem type
INVALID_CODE = "https://mrbill.dev/problems/invalid-code"
TWO_FACTOR_ON = "https://mrbill.dev/problems/two-factor-on"
TWO_FACTOR_OFF = "https://mrbill.dev/problems/two-factor-off"
NOT_STARTED = "https://mrbill.dev/problems/two-factor-not-started"
EXPIRED = "https://mrbill.dev/problems/two-factor-expired"
OWN_ACCOUNT = "https://mrbill.dev/problems/own-account"
CODE_REQUIRED = "https://mrbill.dev/problems/two-factor-code-required"
_WRONG_CODE = N_("The code is wrong or expired")


def matching_step(secret: str, code: str, last_step: int | None, now: float) -> int | None:
    """The time step ``code`` is the code of, one step early or late at most (the phone's
    clock), unless a code of that step or a later one was used already."""
    code = code.strip().replace(" ", "")
    if not _TOTP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(
            totp.generate_otp(step), code
        ):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of ten characters (50 bits each), written ``abcde-fghij``."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_hash(key: bytes, code: str) -> bytes:
    """A recovery code as stored: keyed, so that a copy of the table alone cannot be
    searched for the codes. Case, spaces and hyphens do not count."""
    normalized = re.sub(r"[\s-]", "", code).lower()
    return hmac.new(key, b"recovery-code:" + normalized.encode(), hashlib.sha256).digest()


def _wrong_password() -> Problem:
    return Problem(403, N_("The password is wrong"), type_=WRONG_PASSWORD)


def _already_on() -> Problem:
    return Problem(409, N_("Two-step verification is already on"), type_=TWO_FACTOR_ON)


def _off() -> Problem:
    return Problem(409, N_("Two-step verification is off"), type_=TWO_FACTOR_OFF)


def _otpauth_uri(secret: str, email: str, organization: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=f"{email} ({organization})", issuer_name=ISSUER)


async def _locked_state(conn: asyncpg.Connection, who: Principal) -> dict[str, Any]:
    """The caller's two-step state, locked until the transaction ends (an active member's:
    a deactivated one is told so), with their ``role`` as it is under that lock (a role
    change takes the row too: one read before it could be stale by the commit)."""
    await store.lock_user(conn, who.tenant_id, who.user_id)
    role = await acting_role(conn, who)
    state = await store.two_factor_state(conn, who.tenant_id, who.user_id)
    if state is None:
        raise not_found("User")
    return {**dict(state), "role": role}


async def _checked_password(
    idn: Identity, who: Principal, password: str, conn: asyncpg.Connection
) -> dict[str, Any]:
    """The caller's two-step state, locked, once their password is checked (a per-account
    budget: see ``password_attempt``)."""
    state = await _locked_state(conn, who)
    ok, _ = await idn.passwords.verify(state["password_hash"], password)
    if not ok:
        raise _wrong_password()
    return state


async def start_setup(idn: Identity, who: Principal, password: str) -> tuple[str, str]:
    """A new authenticator key for the caller, not in force until a code confirms it:
    the key, and the same as an otpauth:// URI (a QR code for the app)."""
    await password_attempt(idn, who)
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        state = await _checked_password(idn, who, password, conn)
        if state["totp_enabled_at"] is not None:
            raise _already_on()
        secret = pyotp.random_base32()
        await store.update_user(
            conn, who.tenant_id, who.user_id, totp_secret=idn.secrets.seal(secret)
        )
    return secret, _otpauth_uri(secret, state["email"], state["tenant_name"])


async def _code_attempt(
    idn: Identity, user_id: uuid.UUID, password_since: datetime, *, day: str = "two-factor-code-day"
) -> None:
    """Count a code check against two budgets of the account: one as large as the log-in
    one per minute, and ``two_factor_codes_per_day`` for its current password (someone who
    knows it gets a new challenge at every log-in: without a daily cap, a code would fall
    to guessing in some weeks; a new password starts a new budget). The checks of a
    signed-in owner have a daily budget of their own (``day``): someone who spends the
    log-ins' must not keep the owner from changing the password."""
    await idn.limiter.hit(
        idn.settings.login_rate_per_account,
        "two-factor-code",
        str(user_id),
        detail="Too many codes tried",
    )
    await idn.limiter.hit(
        idn.settings.two_factor_codes_per_day,
        day,
        f"{user_id}:{password_since.timestamp()}",
        detail="Too many codes tried",
    )


async def confirm_setup(idn: Identity, who: Principal, code: str) -> tuple[list[str], Session]:
    """Turn two-step verification on with a code of the new key: the recovery codes, and a
    new session for the client that turned it on. Every other session of the account ends
    (as at a password change): whoever logged in with a stolen password before keeps no
    refresh token that skips the code."""
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        state = await _locked_state(conn, who)
        await _code_attempt(idn, who.user_id, state["password_changed_at"])
        if state["totp_enabled_at"] is not None:
            raise _already_on()
        if state["tenant_status"] != "active":
            # As at a password change: a suspended organization's tokens buy no new session.
            raise unauthorized("This organization is not active")
        if state["totp_secret"] is None:
            raise Problem(
                409, N_("Start turning two-step verification on first"), type_=NOT_STARTED
            )
        secret = idn.secrets.open(state["totp_secret"])
        step = matching_step(secret, code, None, time.time())
        if step is None:
            raise Problem(400, _WRONG_CODE, type_=INVALID_CODE)
        await store.update_user(
            conn,
            who.tenant_id,
            who.user_id,
            totp_enabled_at=datetime.now(UTC),
            totp_last_step=step,
        )
        codes = await _new_codes(idn, conn, who)
        await store.revoke_user_tokens(conn, who.tenant_id, who.user_id)
        session = await _start_session(
            idn, conn, tenant_id=who.tenant_id, user_id=who.user_id, role=state["role"]
        )
        return codes, session


async def _new_codes(idn: Identity, conn: asyncpg.Connection, who: Principal) -> list[str]:
    codes = new_recovery_codes()
    await store.replace_recovery_codes(
        conn, who.tenant_id, who.user_id, [recovery_hash(idn.digest_key, c) for c in codes]
    )
    return codes


async def replace_recovery_codes(
    idn: Identity, who: Principal, password: str, code: str | None
) -> list[str]:
    """New recovery codes for the caller (the password and a code); the old ones stop
    working."""
    await password_attempt(idn, who)
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        await _both_factors(idn, conn, who, password, code)
        return await _new_codes(idn, conn, who)


async def turn_off(idn: Identity, who: Principal, password: str, code: str | None) -> None:
    """The password and a code (a recovery code does, for a lost phone)."""
    await password_attempt(idn, who)
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        await _both_factors(idn, conn, who, password, code)
        await store.turn_off_two_factor(conn, who.tenant_id, who.user_id)


async def _both_factors(
    idn: Identity, conn: asyncpg.Connection, who: Principal, password: str, code: str | None
) -> None:
    """The password and a code of the caller, whose two-step verification must be on."""
    state = await _checked_password(idn, who, password, conn)
    if state["totp_enabled_at"] is None:
        raise _off()
    await second_factor(idn, conn, who, state, code)


async def require_second_factor(
    idn: Identity, conn: asyncpg.Connection, who: Principal, code: str | None
) -> None:
    """:func:`second_factor` for a caller whose row is locked and password checked."""
    state = await store.two_factor_state(conn, who.tenant_id, who.user_id)
    if state is not None:
        await second_factor(idn, conn, who, state, code)


async def second_factor(
    idn: Identity, conn: asyncpg.Connection, who: Principal, state: Any, code: str | None
) -> None:
    """With two-step verification on, what the password alone would change (the password,
    the recovery codes, turning it off, deleting the account or the organization) takes a
    code too, or a recovery code (spent): a password known to someone else, with a session
    of theirs from before it was turned on, must not remove the second factor, lock the
    owner out or erase the account. ``state`` is the caller's, locked
    (``store.two_factor_state``). Code checks have the log-in's budget per minute and a
    daily one of their own."""
    if state["totp_enabled_at"] is None:
        return
    code = (code or "").strip()
    if not code:
        raise Problem(403, N_("Enter the code from your authenticator app"), type_=CODE_REQUIRED)
    await _code_attempt(
        idn, who.user_id, state["password_changed_at"], day="two-factor-code-day-signed-in"
    )
    try:
        secret = idn.secrets.open(state["totp_secret"])
    except RuntimeError as exc:  # a key dropped too soon: recovery codes still work
        _log.error("two_factor_key_unreadable", user_id=str(who.user_id), error=str(exc))
        step = None
    else:
        step = matching_step(secret, code, state["totp_last_step"], time.time())
    if step is not None:
        await store.update_user(conn, who.tenant_id, who.user_id, totp_last_step=step)
    elif not await store.use_recovery_code(
        conn, who.tenant_id, who.user_id, recovery_hash(idn.digest_key, code)
    ):
        raise Problem(403, _WRONG_CODE, type_=INVALID_CODE)


async def reset_for(idn: Identity, who: Principal, user_id: uuid.UUID) -> store.Row:
    """An owner or admin turns a member's two-step verification off (a lost phone, the
    recovery codes lost too): the member logs in with the password alone and may turn it on
    again. Only an owner does it for an owner."""
    if user_id == who.user_id:  # (a stolen access token must not buy it: the password does)
        raise Problem(
            409,
            N_("Turn your own two-step verification off on your account page"),
            type_=OWN_ACCOUNT,
        )
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        acting = await acting_role(conn, who)
        if acting not in ADMIN_ROLES:
            raise forbidden("Only owners and admins manage members")
        target = await store.get_user(conn, who.tenant_id, user_id)
        if target is None:
            raise not_found("User")
        if target["role"] == "owner" and acting != "owner":
            raise forbidden("Only an owner can change another owner")
        user = await store.turn_off_two_factor(conn, who.tenant_id, user_id)
        if user is None:  # erased meanwhile
            raise not_found("User")
    return user


async def complete_log_in(idn: Identity, challenge: str, code: str, client: str) -> Session:
    """The second step of a log-in: a code (or a recovery code) for its challenge."""
    await idn.limiter.hit(
        idn.settings.login_rate_per_address, "login-addr", client, detail="Too many login attempts"
    )
    parsed = parse_opaque_token(challenge)
    if parsed is None:
        raise _expired()
    tenant_id, token_hash = parsed
    outcome: Session | Literal["wrong", "expired"]
    async with tenant_transaction(idn.pool, tenant_id) as conn:
        # The user's row first, as a password reset and a change take it: the challenge is
        # then read as of after any of them, and none can land between the read and the
        # session (which it could not see to end).
        owner = await store.challenge_user(conn, tenant_id, token_hash)
        if owner is None:
            raise _expired()
        await _code_attempt(idn, owner["user_id"], owner["password_changed_at"])
        await store.lock_user(conn, tenant_id, owner["user_id"])
        row = await store.lock_challenge(conn, tenant_id, token_hash)
        outcome = await _decide(idn, conn, tenant_id, row, code)
    if outcome == "wrong":
        raise unauthorized(_WRONG_CODE, type_=INVALID_CODE)
    if outcome == "expired":
        raise _expired()
    return outcome


async def _decide(
    idn: Identity, conn: asyncpg.Connection, tenant_id: uuid.UUID, row: store.Row | None, code: str
) -> Session | Literal["wrong", "expired"]:
    """What a code makes of a locked challenge; a wrong one is counted (and the fifth
    voids the challenge), a right one spends it and opens the session."""
    if row is None:
        return "expired"
    if (
        row["expires_at"] <= datetime.now(UTC)
        or not row["same_password"]
        or row["status"] != "active"
        or row["tenant_status"] != "active"
        or row["totp_enabled_at"] is None
    ):
        await store.delete_challenge(conn, row["challenge_id"])
        return "expired"
    user_id = row["user_id"]
    sealed: bytes | None = row["totp_secret"]
    try:
        secret = idn.secrets.open(row["totp_secret"])
    except RuntimeError as exc:  # a key dropped too soon: recovery codes still work
        _log.error("two_factor_key_unreadable", user_id=str(user_id), error=str(exc))
        step, sealed = None, None
    else:
        step = matching_step(secret, code, row["totp_last_step"], time.time())
    last_step = row["totp_last_step"]
    if step is not None:
        last_step = step
    elif not await store.use_recovery_code(
        conn, tenant_id, user_id, recovery_hash(idn.digest_key, code)
    ):
        failures = await store.count_challenge_failure(conn, row["challenge_id"])
        if failures >= MAX_CODE_FAILURES:
            await store.delete_challenge(conn, row["challenge_id"])
            return "expired"
        return "wrong"
    await store.delete_challenge(conn, row["challenge_id"])
    fields: dict[str, Any] = {"last_login_at": datetime.now(UTC), "totp_last_step": last_step}
    if sealed is not None:  # under the first key, so that older keys can be retired
        fields["totp_secret"] = idn.secrets.rotate(sealed)
    await store.update_user(conn, tenant_id, user_id, **fields)
    return await _start_session(idn, conn, tenant_id=tenant_id, user_id=user_id, role=row["role"])


def _expired() -> Problem:
    return unauthorized(N_("This sign-in expired: enter your password again"), type_=EXPIRED)
