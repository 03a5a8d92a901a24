"""HTTP handlers of the identity service: parse, call the use case, map the result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from platform_api.kernel import (
    Principal,
    Problem,
    current_principal,
    decode_cursor,
    encode_cursor,
    not_found,
    tenant_transaction,
    unauthorized,
)
from platform_api.kernel.errors import request_locale

from . import members, resets, service, store, twofactor
from .schemas import (
    AcceptOut,
    AccountDeleteIn,
    InvitationAcceptIn,
    InvitationCreatedOut,
    InvitationIn,
    InvitationOut,
    InvitationPage,
    JwksOut,
    LoginIn,
    MeOut,
    PasswordAndCodeIn,
    PasswordChangeIn,
    PasswordForgottenIn,
    PasswordIn,
    PasswordResetIn,
    RecoveryCodesOut,
    RefreshIn,
    RoleIn,
    SignUpIn,
    SignUpOut,
    TenantDeleteIn,
    TenantOut,
    TokenOut,
    TwoFactorCodeIn,
    TwoFactorLoginIn,
    TwoFactorOnOut,
    TwoFactorSetupOut,
    UserOut,
    UserPage,
)
from .service import Identity, Session

router = APIRouter()
Caller = Annotated[Principal, Depends(current_principal)]
Limit = Annotated[int, Query(ge=1, le=100)]


def _identity(request: Request) -> Identity:
    return request.app.state.identity


Idn = Annotated[Identity, Depends(_identity)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _token_out(idn: Identity, session: Session, request: Request, response: Response) -> TokenOut:
    # Browsers keep the refresh token in an httpOnly cookie; native apps use the body.
    response.set_cookie(
        idn.settings.refresh_cookie_name,
        session.refresh_token,
        max_age=session.refresh_expires_in,
        httponly=True,
        secure=idn.settings.cookie_secure,
        samesite="strict",
        path=_cookie_path(request),
    )
    # A browser asks for the cookie alone: then no script ever sees the refresh token.
    cookie_only = request.headers.get("x-token-delivery", "").lower() == "cookie"
    return TokenOut(
        access_token=session.access_token,
        expires_in=session.expires_in,
        refresh_token=None if cookie_only else session.refresh_token,
        refresh_expires_in=session.refresh_expires_in,
    )


def _cookie_path(request: Request) -> str:
    """The refresh cookie goes only to the token endpoints, under the proxy's prefix."""
    return request.scope.get("root_path", "") + "/token"


def _after(cursor: str | None, key: str) -> tuple[datetime, uuid.UUID] | None:
    values = decode_cursor(cursor, ("created_at", key))
    if values is None:
        return None
    try:
        # Normalise as the driver would, so that an out-of-range instant is a 400, not a 500.
        created_at = datetime.fromisoformat(values["created_at"]).astimezone(UTC)
        return created_at, uuid.UUID(str(values[key]))
    except (TypeError, ValueError, OverflowError):
        raise Problem(400, "The cursor is malformed") from None


@router.get("/.well-known/jwks.json", response_model=JwksOut, tags=["tokens"])
async def jwks(idn: Idn) -> JSONResponse:
    """Public keys that verify access tokens (current and recently rotated)."""
    return JSONResponse(idn.signer.jwks, headers={"Cache-Control": "public, max-age=300"})


@router.post("/signup", status_code=201, response_model=SignUpOut, tags=["accounts"])
async def sign_up(body: SignUpIn, request: Request, response: Response, idn: Idn) -> SignUpOut:
    """Create an organization (tenant) with you as its owner, and log you in."""
    tenant, session = await service.sign_up(
        idn,
        organization=body.organization,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        client=_client(request),
    )
    async with tenant_transaction(idn.pool, tenant["tenant_id"]) as conn:
        user = await store.get_user(conn, tenant["tenant_id"], session.user_id)
    if user is None:  # created in the sign-up transaction, which has committed
        raise RuntimeError("the new owner is missing")
    return SignUpOut(
        tenant=TenantOut(**dict(tenant)),
        user=UserOut(**dict(user)),
        tokens=_token_out(idn, session, request, response),
    )


@router.post("/login", response_model=TokenOut, tags=["tokens"])
async def log_in(body: LoginIn, request: Request, response: Response, idn: Idn) -> TokenOut:
    """Exchange e-mail and password for an access token and a refresh token."""
    session = await service.log_in(
        idn,
        email=body.email,
        password=body.password,
        client=_client(request),
        tenant_id=body.tenant_id,
    )
    return _token_out(idn, session, request, response)


@router.post("/login/two-factor", response_model=TokenOut, tags=["tokens"])
async def log_in_with_code(
    body: TwoFactorLoginIn, request: Request, response: Response, idn: Idn
) -> TokenOut:
    """The second step of a log-in with two-step verification on: ``/login`` answered 401
    ``two-factor-required`` with a challenge; send it with the authenticator app's code (or
    a recovery code, which is then spent). A wrong code: 401 ``invalid-code``; the fifth, or
    a challenge older than five minutes: 401 ``two-factor-expired`` (log in again)."""
    session = await twofactor.complete_log_in(idn, body.challenge, body.code, _client(request))
    return _token_out(idn, session, request, response)


@router.post("/token/refresh", response_model=TokenOut, tags=["tokens"])
async def refresh(body: RefreshIn, request: Request, response: Response, idn: Idn) -> TokenOut:
    """Rotate the refresh token (body or cookie) and get a new access token."""
    token = body.refresh_token or request.cookies.get(idn.settings.refresh_cookie_name)
    if not token:
        raise unauthorized("No refresh token")
    return _token_out(idn, await service.refresh(idn, token), request, response)


@router.post("/token/logout", status_code=204, tags=["tokens"])
async def log_out(body: RefreshIn, request: Request, idn: Idn) -> Response:
    """Revoke this login's refresh tokens (every rotation of it)."""
    token = body.refresh_token or request.cookies.get(idn.settings.refresh_cookie_name)
    await service.log_out(idn, token)
    response = Response(status_code=204)
    response.delete_cookie(idn.settings.refresh_cookie_name, path=_cookie_path(request))
    return response


@router.get("/me", response_model=MeOut, tags=["accounts"])
async def me(who: Caller, idn: Idn) -> MeOut:
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        user = await store.get_user(conn, who.tenant_id, who.user_id)
        tenant = await store.get_tenant(conn, who.tenant_id)
    if user is None or tenant is None:
        raise not_found("User")
    return MeOut(user=UserOut(**dict(user)), tenant=TenantOut(**dict(tenant)))


@router.post("/me/password", response_model=TokenOut, tags=["accounts"])
async def change_password(
    body: PasswordChangeIn, request: Request, response: Response, who: Caller, idn: Idn
) -> TokenOut:
    """Change your password; every refresh token of yours is revoked, and the answer is a new
    session for the client that changed it (its refresh token in the cookie, as at log-in).
    Password checks have a per-account budget as large as log-in's: past it, 429 with
    Retry-After. With two-step verification on, `code` too (the app's or a recovery code):
    else 403 `two-factor-code-required` or `invalid-code`."""
    session = await service.change_password(
        idn, who, body.current_password, body.new_password, body.code
    )
    return _token_out(idn, session, request, response)


@router.post("/me/two-factor", response_model=TwoFactorSetupOut, tags=["two-factor"])
async def start_two_factor(body: PasswordIn, who: Caller, idn: Idn) -> TwoFactorSetupOut:
    """Start turning two-step verification on: a new key for an authenticator app (as text
    and as an otpauth:// URI for a QR code). Nothing changes until a code of it is
    confirmed. Password checks share the per-account budget of a password change."""
    secret, uri = await twofactor.start_setup(idn, who, body.password)
    return TwoFactorSetupOut(secret=secret, otpauth_uri=uri)


@router.post("/me/two-factor/confirm", response_model=TwoFactorOnOut, tags=["two-factor"])
async def confirm_two_factor(
    body: TwoFactorCodeIn, request: Request, response: Response, who: Caller, idn: Idn
) -> TwoFactorOnOut:
    """Turn two-step verification on with a code from the app; the answer holds ten
    recovery codes, shown this once (each logs in once instead of a code), and a new session
    for this client (its refresh token in the cookie, as at log-in): every other session of
    the account ends, as at a password change."""
    codes, session = await twofactor.confirm_setup(idn, who, body.code)
    return TwoFactorOnOut(recovery_codes=codes, session=_token_out(idn, session, request, response))


@router.post("/me/two-factor/recovery-codes", response_model=RecoveryCodesOut, tags=["two-factor"])
async def new_recovery_codes(body: PasswordAndCodeIn, who: Caller, idn: Idn) -> RecoveryCodesOut:
    """Ten new recovery codes, for the password and a code from the app (or a recovery
    code); the old ones stop working."""
    codes = await twofactor.replace_recovery_codes(idn, who, body.password, body.code)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/me/two-factor/disable", status_code=204, tags=["two-factor"])
async def disable_two_factor(body: PasswordAndCodeIn, who: Caller, idn: Idn) -> Response:
    """Turn two-step verification off, for the password and a code from the app (or a
    recovery code: a lost phone); the key and the recovery codes are forgotten."""
    await twofactor.turn_off(idn, who, body.password, body.code)
    return Response(status_code=204)


@router.get("/me/export", tags=["privacy"])
async def export_my_data(who: Caller, idn: Idn) -> JSONResponse:
    """LGPD: download everything this service holds about you."""
    data = await members.export_my_data(idn, who)
    return JSONResponse(
        jsonable_encoder(data),
        headers={"Content-Disposition": 'attachment; filename="mrbill-identity-export.json"'},
    )


@router.post("/me/delete", status_code=204, tags=["privacy"])
async def delete_my_account(body: AccountDeleteIn, who: Caller, idn: Idn) -> Response:
    """LGPD: erase your account (confirm with your password, and a `code` with two-step
    verification on; checks are rate-limited as a password change's are)."""
    await members.delete_my_account(idn, who, body.password, body.code)
    return Response(status_code=204)


@router.post("/password/forgotten", status_code=202, tags=["accounts"])
async def password_forgotten(body: PasswordForgottenIn, request: Request, idn: Idn) -> Response:
    """Send a one-time link to reset the password of each account of this e-mail address.
    Answered alike whether or not one exists; rate-limited per client and per address."""
    await resets.request_reset(
        idn, email=body.email, client=_client(request), locale=request_locale(request)
    )
    return Response(status_code=202)


@router.post("/password/reset", status_code=204, tags=["accounts"])
async def password_reset(body: PasswordResetIn, request: Request, idn: Idn) -> Response:
    """Set a new password with a link's token; every session of the account ends."""
    await resets.reset_password(
        idn, token=body.token, new_password=body.new_password, client=_client(request)
    )
    return Response(status_code=204)


@router.post("/tenant/delete", status_code=204, tags=["privacy"])
async def delete_organization(body: TenantDeleteIn, who: Caller, idn: Idn) -> Response:
    """LGPD: erase the organization (owners only): every account, and everything every
    service holds of it. Confirm with your password (and a `code` with two-step
    verification on) and the organization's name; the password checks are rate-limited as
    a password change's are."""
    await members.delete_organization(idn, who, body.password, body.organization, body.code)
    return Response(status_code=204)


@router.get("/users", response_model=UserPage, tags=["members"])
async def list_users(
    who: Caller,
    idn: Idn,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    status: Literal["active", "deactivated"] | None = None,
) -> UserPage:
    """Members of your organization, newest first."""
    async with tenant_transaction(idn.pool, who.tenant_id) as conn:
        rows = await store.list_users(
            conn, who.tenant_id, limit=limit + 1, after=_after(cursor, "user_id"), status=status
        )
    items = [_user_out(r, who) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            {"created_at": last["created_at"].isoformat(), "user_id": str(last["user_id"])}
        )
    return UserPage(items=items, next_cursor=next_cursor)


def _user_out(row: store.Row, who: Principal) -> UserOut:
    """A member as the caller may see them: whether another member has two-step
    verification on (and their recovery codes left) is for owners and admins only, not a
    list of the accounts easiest to take over."""
    out = UserOut(**dict(row))
    if row["user_id"] != who.user_id and not who.has_any_role(*service.ADMIN_ROLES):
        return out.model_copy(update={"two_factor": None, "recovery_codes_left": None})
    return out


@router.get("/users/{user_id}", response_model=UserOut, tags=["members"])
async def get_user(user_id: uuid.UUID, who: Caller, idn: Idn) -> UserOut:
    return _user_out(await members.get_user(idn, who, user_id), who)


@router.post("/users/{user_id}/deactivate", response_model=UserOut, tags=["members"])
async def deactivate_user(user_id: uuid.UUID, who: Caller, idn: Idn) -> UserOut:
    """Owners/admins: block a member and revoke their sessions."""
    return UserOut(**dict(await members.set_user_status(idn, who, user_id, "deactivated")))


@router.post("/users/{user_id}/reactivate", response_model=UserOut, tags=["members"])
async def reactivate_user(user_id: uuid.UUID, who: Caller, idn: Idn) -> UserOut:
    return UserOut(**dict(await members.set_user_status(idn, who, user_id, "active")))


@router.post("/users/{user_id}/two-factor/reset", response_model=UserOut, tags=["two-factor"])
async def reset_two_factor(user_id: uuid.UUID, who: Caller, idn: Idn) -> UserOut:
    """Owners and admins: turn a member's two-step verification off, for one who lost both
    the phone and the recovery codes (only an owner does it for an owner)."""
    return UserOut(**dict(await twofactor.reset_for(idn, who, user_id)))


@router.put("/users/{user_id}/role", response_model=UserOut, tags=["members"])
async def change_role(user_id: uuid.UUID, body: RoleIn, who: Caller, idn: Idn) -> UserOut:
    """Owners: make a member an admin or owner, or demote them."""
    return UserOut(**dict(await members.change_role(idn, who, user_id, body.role)))


@router.post("/invitations", status_code=201, response_model=InvitationCreatedOut, tags=["members"])
async def invite(body: InvitationIn, who: Caller, idn: Idn) -> InvitationCreatedOut:
    """Owners/admins: invite someone by e-mail; share the returned link with them."""
    invitation, token = await members.invite(idn, who, body.email, body.role)
    return InvitationCreatedOut(
        **dict(invitation),
        token=token,
        accept_url=f"{idn.settings.public_base_url}/invite#{token}",
    )


@router.get("/invitations", response_model=InvitationPage, tags=["members"])
async def list_invitations(
    who: Caller,
    idn: Idn,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> InvitationPage:
    """Owners/admins: pending invitations of your organization."""
    rows = await members.pending_invitations(
        idn, who, limit=limit + 1, after=_after(cursor, "invitation_id")
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            {
                "created_at": last["created_at"].isoformat(),
                "invitation_id": str(last["invitation_id"]),
            }
        )
    return InvitationPage(
        items=[InvitationOut(**dict(r)) for r in rows[:limit]], next_cursor=next_cursor
    )


@router.delete("/invitations/{invitation_id}", status_code=204, tags=["members"])
async def revoke_invitation(invitation_id: uuid.UUID, who: Caller, idn: Idn) -> Response:
    await members.revoke_invitation(idn, who, invitation_id)
    return Response(status_code=204)


@router.post("/invitations/accept", status_code=201, response_model=AcceptOut, tags=["members"])
async def accept_invitation(
    body: InvitationAcceptIn, request: Request, response: Response, idn: Idn
) -> AcceptOut:
    """Join an organization with an invitation token, choosing your password."""
    user, session = await members.accept_invitation(
        idn, token=body.token, full_name=body.full_name, password=body.password
    )
    return AcceptOut(user=UserOut(**dict(user)), tokens=_token_out(idn, session, request, response))
