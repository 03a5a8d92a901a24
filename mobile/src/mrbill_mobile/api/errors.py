"""What can go wrong when talking to the API, as exception types the screens understand."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEMS = "https://mrbill.dev/problems/"
TWO_FACTOR_REQUIRED = PROBLEMS + "two-factor-required"
TWO_FACTOR_EXPIRED = PROBLEMS + "two-factor-expired"
INVALID_CODE = PROBLEMS + "invalid-code"


class ApiError(Exception):
    """The API answered with an error: an RFC 9457 problem (``application/problem+json``)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
        type_: str = "about:blank",
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_  # tells problems apart; `detail` is for people
        self.errors = errors or []
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Read a problem body; anything else (a proxy's HTML page) keeps only the status.

        A 401 is `AuthRequired`, except the two-step log-in's own problems, which are not
        about a session: `TwoFactorRequired` and `TwoFactorExpired` (a wrong code stays an
        `ApiError` of type `INVALID_CODE`).
        """
        body: dict[str, Any] = {}
        try:
            parsed = response.json()
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        retry = response.headers.get("retry-after")
        error = cls(
            response.status_code,
            str(body.get("title") or response.reason_phrase or "Error"),
            str(body.get("detail") or ""),
            errors=[e for e in body.get("errors") or [] if isinstance(e, dict)],
            retry_after=float(retry) if retry and retry.isdigit() else None,
            type_=str(body.get("type") or "about:blank"),
        )
        if error.type == TWO_FACTOR_REQUIRED and body.get("challenge"):
            return TwoFactorRequired(
                error, str(body["challenge"]), float(body.get("expires_in") or 300)
            )
        if error.type == TWO_FACTOR_EXPIRED:
            return TwoFactorExpired(error)
        if response.status_code == 401 and error.type != INVALID_CODE:
            return AuthRequired(error)
        return error

    @property
    def field_errors(self) -> dict[str, str]:
        """Validation messages per request field (``{"name": "..."}``), from ``errors[].loc``."""
        fields: dict[str, str] = {}
        for error in self.errors:
            loc = [str(part) for part in error.get("loc", []) if part not in ("body", "query")]
            if loc:
                message = str(error.get("msg", "")).removeprefix("Value error, ")
                fields.setdefault(loc[0], message)
        return fields

    @property
    def message(self) -> str:
        """One line for a person: the detail, else the title."""
        return self.detail or self.title


class AuthRequired(ApiError):
    """No valid session (401 even after a silent refresh): the user must log in again."""

    def __init__(self, cause: ApiError | None = None) -> None:
        if cause is None:
            super().__init__(401, "Unauthorized", "Please log in again")
        else:
            super().__init__(
                cause.status, cause.title, cause.detail, errors=cause.errors, type_=cause.type
            )


class TwoFactorRequired(ApiError):
    """The password was right and the account has two-step verification on: log-in goes on
    with a code and this ``challenge`` (`IdentityApi.login_two_factor`) for ``expires_in``
    seconds."""

    def __init__(self, cause: ApiError, challenge: str, expires_in: float) -> None:
        super().__init__(cause.status, cause.title, cause.detail, type_=cause.type)
        self.challenge = challenge
        self.expires_in = expires_in


class TwoFactorExpired(ApiError):
    """The two-step log-in's challenge is spent (too many wrong codes, or too late): the
    password must be entered again."""

    def __init__(self, cause: ApiError) -> None:
        super().__init__(cause.status, cause.title, cause.detail, type_=cause.type)


class Offline(Exception):
    """The API could not be reached (no network, DNS, refused, timed out)."""


class Unavailable(Offline):
    """The entry point answered, but not the service behind it (502, 503, 504: restarting,
    overloaded, being deployed): as good as offline for a while, so it is treated so (the
    screens keep what they show, reports keep being followed); ``problem`` says what the
    gateway or the service answered."""

    def __init__(self, problem: ApiError) -> None:
        super().__init__(problem.message)
        self.problem = problem
