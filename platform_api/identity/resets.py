"""A forgotten password: a one-time link by e-mail, then a new password.

Asking is answered alike whether or not an account uses the address, and the message goes
out after the answer, so neither the answer nor its timing says who has an account. One
message lists a link per organization the address can log in to (an address may have an
account in several). A link works once, for ``IDENTITY_PASSWORD_RESET_TTL_MINUTES``; using
it sets the password, spends every other open link of that account and ends all its
sessions, as a password change does. Asking is rate-limited per client address and per
e-mail address; so is using a link.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from platform_api.kernel import Problem, tenant_transaction
from platform_api.kernel.i18n import N_, translate

from . import store
from .mail import Mail, RetryingMailer
from .security import new_opaque_token, parse_opaque_token
from .service import Identity

_log = structlog.get_logger("identity.resets")

SUBJECT = N_("Reset your Mr Bill password")
BODY = N_(
    "Someone, probably you, asked to reset the password of the Mr Bill account of {email}.\n"
    "To choose a new password, open the link of your organization within {minutes} minutes:"
)
IGNORE = N_("If you did not ask for it, ignore this message: your password stays as it is.")
INVALID = N_("This password reset link is not valid: it expired, was used, or is incomplete")


async def request_reset(idn: Identity, *, email: str, client: str, locale: str) -> None:
    """Make a link for every account of ``email`` that may log in, and send them in one
    message, in ``locale``, once this has returned."""
    settings = idn.settings
    await idn.limiter.hit(
        settings.reset_rate_per_address,
        "reset-addr",
        client,
        detail="Too many password reset requests",
    )
    digest = idn.digest(email)
    await idn.limiter.hit(
        settings.reset_rate_per_account,
        "reset-account",
        digest.hex(),
        detail="Too many password reset requests",
    )
    async with idn.pool.acquire() as conn:
        candidates = await store.directory_tenants(conn, digest)
    expires = datetime.now(UTC) + timedelta(minutes=settings.password_reset_ttl_minutes)
    links: list[tuple[str, str]] = []
    for tenant_id in candidates:
        async with tenant_transaction(idn.pool, tenant_id) as conn:
            user = await store.user_for_login(conn, tenant_id, email)
            if user is None or user["status"] != "active" or user["tenant_status"] != "active":
                continue
            token, token_hash = new_opaque_token(tenant_id)
            await store.forget_spent_password_resets(conn, tenant_id, user["user_id"])
            await store.insert_password_reset(conn, tenant_id, user["user_id"], token_hash, expires)
            name = await store.tenant_name(conn, tenant_id) or ""
        links.append((name, f"{settings.public_base_url.rstrip('/')}/reset#{token}"))
    if not links:
        return
    lines = [
        translate(BODY, locale, {"email": email, "minutes": settings.password_reset_ttl_minutes})
    ]
    lines += ["", *(f"{name}: {link}" for name, link in links), "", translate(IGNORE, locale)]
    mail = Mail(
        to=email, subject=translate(SUBJECT, locale), text="\n".join(lines), language=locale
    )
    within = (expires - datetime.now(UTC)).total_seconds()
    task = asyncio.get_running_loop().create_task(_send(idn, mail, within))
    idn.sending.add(task)
    task.add_done_callback(idn.sending.discard)


async def _send(idn: Identity, mail: Mail, within: float) -> None:
    """Send, trying again after passing failures while the links work."""
    try:
        await RetryingMailer(idn.mailer, within=within).send(mail)
    except asyncio.CancelledError:
        _log.error("password_reset_mail_abandoned", detail="the service stopped before it went out")
        raise
    except Exception as exc:  # the person asks again; nothing else waits for it
        _log.error("password_reset_mail_failed", error=repr(exc))


async def stop_sending(idn: Identity) -> None:
    """Give up the messages still on their way (the service is stopping): each is logged
    as abandoned, and its person asks again."""
    tasks = list(idn.sending)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def reset_password(idn: Identity, *, token: str, new_password: str, client: str) -> None:
    await idn.limiter.hit(
        idn.settings.login_rate_per_address, "reset-use", client, detail="Too many attempts"
    )
    parsed = parse_opaque_token(token)
    if parsed is None:
        raise Problem(404, INVALID)
    tenant_id, token_hash = parsed
    password_hash = await idn.passwords.hash(new_password)
    async with tenant_transaction(idn.pool, tenant_id) as conn:
        user_id = await store.password_reset_user(conn, tenant_id, token_hash)
        if user_id is None:
            raise Problem(404, INVALID)
        # The user's row first, then the link, then the tokens: the order a refresh, a
        # deactivation and another link of the same account take them in, so that each
        # waits for the other, and what is read next (the link still unused, the account
        # still active) is what holds when this commits.
        await store.lock_user(conn, tenant_id, user_id)
        reset = await store.usable_password_reset(conn, tenant_id, token_hash)
        if reset is None or reset["status"] != "active" or reset["tenant_status"] != "active":
            raise Problem(404, INVALID)
        await store.update_user(
            conn,
            tenant_id,
            user_id,
            password_hash=password_hash,
            password_changed_at=datetime.now(UTC),
        )
        await store.use_password_resets(conn, tenant_id, user_id)
        await store.revoke_user_tokens(conn, tenant_id, user_id)
