"""Request and response bodies of the identity API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from platform_api.kernel.text import clean_line


def _normalize_email(value: str) -> str:
    return value.strip().lower()


Email = Annotated[EmailStr, AfterValidator(_normalize_email)]
Password = Annotated[str, Field(min_length=10, max_length=128)]
if TYPE_CHECKING:  # a validated str; mypy cannot evaluate the Annotated alias clean_line builds
    Name = str
else:
    Name = clean_line(100)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUpIn(Strict):
    organization: Name = Field(description="The company or team name; becomes the tenant")
    full_name: Name
    email: Email
    password: Password


class LoginIn(Strict):
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=128)]
    tenant_id: uuid.UUID | None = Field(
        default=None, description="Only needed when one e-mail belongs to several organizations"
    )


class RefreshIn(Strict):
    refresh_token: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="Omit to use the refresh cookie"
    )


class PasswordChangeIn(Strict):
    current_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password
    code: SecondFactor = None


class AccountDeleteIn(Strict):
    password: Annotated[str, Field(min_length=1, max_length=128)]
    code: SecondFactor = None


class PasswordIn(Strict):
    password: Annotated[str, Field(min_length=1, max_length=128)]


Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="The authenticator app's 6-digit code, or a recovery code",
    ),
]


SecondFactor = Annotated[
    str | None,
    Field(
        max_length=32,
        description="With two-step verification on: the app's code, or a recovery code",
    ),
]


class TwoFactorCodeIn(Strict):
    code: Code


class PasswordAndCodeIn(PasswordIn):
    code: SecondFactor = None


class TwoFactorLoginIn(Strict):
    challenge: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The challenge of the log-in's two-factor-required answer"
    )
    code: Code


class TwoFactorSetupOut(BaseModel):
    secret: str = Field(description="The key to type into an authenticator app (base32)")
    otpauth_uri: str = Field(description="The same key as an otpauth:// URI, for a QR code")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once: each works once")


class PasswordForgottenIn(Strict):
    email: Email


class PasswordResetIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200, description="From the link")]
    new_password: Password


class TenantDeleteIn(Strict):
    password: Annotated[str, Field(min_length=1, max_length=128)]
    organization: Annotated[
        str, Field(min_length=1, max_length=200, description="Its name, typed to confirm")
    ]
    code: SecondFactor = None


class InvitationIn(Strict):
    email: Email
    role: Literal["admin", "member"] = "member"


class InvitationAcceptIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    full_name: Name
    password: Password


class RoleIn(Strict):
    role: Literal["owner", "admin", "member"]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str | None = Field(
        default=None,
        description="For native apps; left out when the request says `X-Token-Delivery: cookie`"
        " (browsers: the httpOnly cookie is the only copy)",
    )
    refresh_expires_in: int


class TwoFactorOnOut(RecoveryCodesOut):
    session: TokenOut = Field(
        description="A new session for this client: every other session of the account ended"
    )


class UserOut(BaseModel):
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Literal["owner", "admin", "member"]
    status: Literal["active", "deactivated"]
    created_at: datetime
    last_login_at: datetime | None
    # Shown for yourself, and to owners and admins (null otherwise).
    two_factor: bool | None = Field(description="Two-step verification is on")
    recovery_codes_left: int | None = Field(description="Unused recovery codes (0 when off)")


class TenantOut(BaseModel):
    tenant_id: uuid.UUID
    name: str
    slug: str
    subscription_plan: str
    status: str
    created_at: datetime


class SignUpOut(BaseModel):
    tenant: TenantOut
    user: UserOut
    tokens: TokenOut


class AcceptOut(BaseModel):
    user: UserOut
    tokens: TokenOut


class InvitationOut(BaseModel):
    invitation_id: uuid.UUID
    email: str
    role: str
    created_at: datetime
    expires_at: datetime


class InvitationCreatedOut(InvitationOut):
    token: str = Field(description="Shown once; the invitee uses it to join")
    accept_url: str


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class InvitationPage(BaseModel):
    items: list[InvitationOut]
    next_cursor: str | None


class MeOut(BaseModel):
    user: UserOut
    tenant: TenantOut


class JwksOut(BaseModel):
    keys: list[dict[str, Any]]
