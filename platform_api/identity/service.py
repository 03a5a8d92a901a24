"""Identity use cases: sign-up, login, token rotation, invitations, users, LGPD rights."""

from __future__ import annotations

import asyncio
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from platform_api.kernel import Problem, not_found, tenant_transaction, unauthorized
from platform_api.kernel.auth import Principal
from platform_api.kernel.i18n import N_
from platform_api.kernel.ratelimit import RateLimiter

from . import store
from .mail import Mailer
from .security import (
    Passwords,
    SecretBox,
    TokenSigner,
    email_digest,
    new_opaque_token,
    parse_opaque_token,
)
from .settings import IdentitySettings

GENERIC_LOGIN_FAILURE = N_("Invalid email or password")
TWO_FACTOR_REQUIRED = "https://mrbill.dev/problems/two-factor-required"
ADMIN_ROLES = ("owner", "admin")


@dataclass
class Identity:
    """Everything the use cases need, built once per process by ``create_app``."""

    settings: IdentitySettings
    pool: asyncpg.Pool
    passwords: Passwords
    signer: TokenSigner
    limiter: RateLimiter
    digest_key: bytes
    mailer: Mailer
    secrets: SecretBox  # authenticator keys, encrypted at rest
    # Messages on their way (``resets``), kept from the collector and stopped with the app.
    sending: set[asyncio.Task[None]] = field(default_factory=set)

    def digest(self, email: str) -> bytes:
        return email_digest(self.digest_key, email)


@dataclass(frozen=True)
class Session:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:50] or "team"


def deactivated() -> Problem:
    """What a deactivated member's still-valid access token is told about their account."""
    return Problem(
        403,
        "This account is deactivated: ask an owner or admin of the organization",
        type_="https://mrbill.dev/problems/account-deactivated",
    )


async def acting_role(conn: asyncpg.Connection, who: Principal) -> str:
    """The caller's role as it is now, not as their access token says: a demoted owner or a
    deactivated admin keeps a valid token for minutes, and must not keep its powers."""
    me = await store.get_user(conn, who.tenant_id, who.user_id)
    if me is None:
        raise not_found("User")
    if me["status"] != "active":
        raise deactivated()
    return str(me["role"])


async def _start_session(
    idn: Identity,
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    family_id: uuid.UUID | None = None,
) -> Session:
    refresh, refresh_hash = new_opaque_token(tenant_id)
    ttl = timedelta(days=idn.settings.refresh_token_ttl_days)
    await store.insert_refresh_token(
        conn,
        tenant_id=tenant_id,
        user_id=user_id,
        family_id=family_id or uuid.uuid4(),
        token_hash=refresh_hash,
        expires_at=datetime.now(UTC) + ttl,
    )
    access = idn.signer.access_token(user_id=user_id, tenant_id=tenant_id, role=role)
    return Session(
        user_id=user_id,
        tenant_id=tenant_id,
        access_token=access.token,
        expires_in=access.expires_in,
        refresh_token=refresh,
        refresh_expires_in=int(ttl.total_seconds()),
    )


async def sign_up(
    idn: Identity, *, organization: str, email: str, password: str, full_name: str, client: str
) -> tuple[asyncpg.Record, Session]:
    """Create a tenant and its owner, and log the owner in."""
    await idn.limiter.hit(
        idn.settings.signup_rate_per_address, "signup", client, detail="Too many sign-ups"
    )
    password_hash = await idn.passwords.hash(password)
    base_slug = slugify(organization)
    for attempt in range(5):
        tenant_id = uuid.uuid4()
        slug = base_slug if attempt == 0 else f"{base_slug}-{secrets.token_hex(3)}"
        try:
            async with tenant_transaction(idn.pool, tenant_id) as conn:
                tenant = await store.insert_tenant(conn, tenant_id, organization, slug)
                user = await store.insert_user(
                    conn,
                    tenant_id=tenant_id,
                    email=email,
                    password_hash=password_hash,
                    full_name=full_name,
                    role="owner",
                    digest=idn.digest(email),
                )
                session = await _start_session(
                    idn, conn, tenant_id=tenant_id, user_id=user["user_id"], role="owner"
                )
                return tenant, session
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "tenants_slug_key":
                raise
    raise Problem(409, "Could not allocate an organization address; try another name")


async def log_in(
    idn: Identity, *, email: str, password: str, client: str, tenant_id: uuid.UUID | None = None
) -> Session:
    """Check credentials (rate-limited per account and per address) and open a session."""
    await idn.limiter.hit(
        idn.settings.login_rate_per_address, "login-addr", client, detail="Too many login attempts"
    )
    digest = idn.digest(email)
    await idn.limiter.hit(
        idn.settings.login_rate_per_account,
        "login-account",
        digest.hex(),
        detail="Too many login attempts",
    )
    async with idn.pool.acquire() as conn:
        candidates = await store.directory_tenants(conn, digest)
    if tenant_id is not None:
        candidates = [t for t in candidates if t == tenant_id]
    if not candidates:
        await idn.passwords.verify(None, password)  # same cost as a real check
        raise unauthorized(GENERIC_LOGIN_FAILURE)
    for candidate in candidates:
        async with tenant_transaction(idn.pool, candidate) as conn:
            user = await store.user_for_login(conn, candidate, email)
            if user is None:
                continue
            ok, needs_rehash = await idn.passwords.verify(user["password_hash"], password)
            if not ok or user["status"] != "active" or user["tenant_status"] != "active":
                continue
            fields: dict[str, Any] = {}
            if not user["two_factor"]:  # (with it on, the log-in happens with the code)
                fields["last_login_at"] = datetime.now(UTC)
            if needs_rehash:
                fields["password_hash"] = await idn.passwords.hash(password)
            # Only while the password checked is still the account's: one reset or changed
            # during the check (an attacker who knew the old one, locked out by the owner)
            # must not open a session the change could not see to end.
            current = user["password_hash"]
            if fields and (
                await store.update_user(
                    conn, candidate, user["user_id"], while_password=current, **fields
                )
                is None
            ):
                continue
            if not user["two_factor"]:
                return await _start_session(
                    idn, conn, tenant_id=candidate, user_id=user["user_id"], role=user["role"]
                )
            challenge = await _open_challenge(idn, conn, user)
        # (raised once the challenge is committed)
        raise two_factor_required(challenge, idn.settings.two_factor_challenge_seconds)
    raise unauthorized(GENERIC_LOGIN_FAILURE)


async def _open_challenge(idn: Identity, conn: asyncpg.Connection, user: asyncpg.Record) -> str:
    """Note a log-in whose password was right and that waits for its code; the challenge
    that names it. It holds when the password was set: a password reset or changed before
    the code comes voids it (see ``twofactor.complete_log_in``)."""
    challenge, token_hash = new_opaque_token(user["tenant_id"])
    await store.insert_challenge(
        conn,
        user["tenant_id"],
        user["user_id"],
        token_hash=token_hash,
        password_changed_at=user["password_changed_at"],
        expires_at=datetime.now(UTC) + timedelta(seconds=idn.settings.two_factor_challenge_seconds),
    )
    return challenge


def two_factor_required(challenge: str, expires_in: int) -> Problem:
    """The answer to a right password of an account with two-step verification on."""
    return unauthorized(
        N_("Enter the code from your authenticator app"),
        type_=TWO_FACTOR_REQUIRED,
        challenge=challenge,
        expires_in=expires_in,
    )


async def refresh(idn: Identity, refresh_token: str) -> Session:
    """Rotate a refresh token. Presenting an already-used one revokes its whole family,
    unless it was used within the last ``refresh_reuse_grace_seconds``: two tabs refreshing
    at the same moment, or a reload while a refresh was in flight (its new cookie never
    stored), are the same person, not a thief; they get a new token of the same family."""
    parsed = parse_opaque_token(refresh_token)
    if parsed is None:
        raise unauthorized("Invalid refresh token")
    tenant_id, token_hash = parsed
    reuse = False
    now = datetime.now(UTC)
    grace = timedelta(seconds=idn.settings.refresh_reuse_grace_seconds)
    async with tenant_transaction(idn.pool, tenant_id) as conn:
        row = await store.lock_refresh_token(conn, tenant_id, token_hash)
        if row is None:
            raise unauthorized("Invalid refresh token")
        used, revoked = row["used_at"], row["revoked_at"]
        if revoked is not None or (used is not None and used <= now - grace):
            await store.revoke_family(conn, tenant_id, row["family_id"])
            reuse = True
        elif (
            row["expires_at"] <= now
            or row["user_status"] != "active"
            or row["tenant_status"] != "active"
        ):
            raise unauthorized("Refresh token expired; please log in again")
        else:
            if used is None:
                await store.mark_refresh_used(conn, row["token_id"])
            return await _start_session(
                idn,
                conn,
                tenant_id=tenant_id,
                user_id=row["user_id"],
                role=row["role"],
                family_id=row["family_id"],
            )
    assert reuse
    raise unauthorized("Refresh token reuse detected; every session of this login was revoked")


async def log_out(idn: Identity, refresh_token: str | None) -> None:
    """Revoke the session family of ``refresh_token`` (idempotent, silent on bad tokens)."""
    parsed = parse_opaque_token(refresh_token or "")
    if parsed is None:
        return
    tenant_id, token_hash = parsed
    async with tenant_transaction(idn.pool, tenant_id) as conn:
        row = await store.lock_refresh_token(conn, tenant_id, token_hash)
        if row is not None:
            await store.revoke_family(conn, tenant_id, row["family_id"])


async def password_attempt(idn: Identity, who: Principal) -> None:
    """Count a check of the caller's password against a per-account budget as large as the
    log-in one (its own counter: guesses here do not lock the owner out of log-in): a stolen
    access token must not buy unlimited guesses of the password behind it (a password
    change and an account deletion each check it)."""
    await idn.limiter.hit(
        idn.settings.login_rate_per_account,
        "password-check",
        str(who.user_id),
        detail="Too many password attempts",
    )


async def change_password(
    idn: Identity, who: Principal, current: str, new: str, code: str | None = None
) -> Session:
    """Every session of the caller's ends; the returned one, opened with the new password,
    keeps the client that changed it signed in. With two-step verification on, it takes a
    code too (``twofactor.second_factor``)."""
    from . import twofactor  # (it builds on this module)

    await password_attempt(idn, who)
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        # A deactivated member's access token outlives the deactivation by minutes: it is told
        # so here, and buys no new session. The row first: the role read is the one that
        # holds when this commits (a role change waits, and revokes the session after).
        await store.lock_user(conn, who.tenant_id, who.user_id)
        role = await acting_role(conn, who)
        password_hash = await store.get_password_hash(conn, who.tenant_id, who.user_id)
        tenant = await store.get_tenant(conn, who.tenant_id)
        if tenant is None or tenant["status"] != "active":
            # As at log-in: a suspended organization's tokens buy no new session.
            raise unauthorized("This organization is not active")
        ok, _ = await idn.passwords.verify(password_hash, current)
        if ok:
            await twofactor.require_second_factor(idn, conn, who, code)
        # (a password reset or changed during the check wins: this one's "current" no longer is)
        if not ok or (
            await store.update_user(
                conn,
                who.tenant_id,
                who.user_id,
                while_password=password_hash,
                password_hash=await idn.passwords.hash(new),
                password_changed_at=datetime.now(UTC),
            )
            is None
        ):
            raise Problem(403, "The current password is wrong")
        await store.use_password_resets(conn, who.tenant_id, who.user_id)  # the links are void
        await store.revoke_user_tokens(conn, who.tenant_id, who.user_id)
        return await _start_session(
            idn, conn, tenant_id=who.tenant_id, user_id=who.user_id, role=role
        )
