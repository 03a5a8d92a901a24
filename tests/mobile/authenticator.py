"""The phone's authenticator app, for the tests: two-step verification turned on through the
identity API as the web app does it, and the TOTP codes (RFC 6238, by `pyotp`) of its key.

The identity service takes a code once, and one time step (30 s) early or late at most: each
code given here is of a later step than the last, and waits for the clock when three were
used within one step.
"""

from __future__ import annotations

import time

import pyotp
from mrbill_mobile.api import ApiClient

from tests.harness.ywire import eventually

STEP_SECONDS = 30


class Authenticator:
    def __init__(self, secret: str, recovery_codes: list[str]) -> None:
        self.totp = pyotp.TOTP(secret)
        self.recovery_codes = recovery_codes
        self.last_step: int | None = None

    @staticmethod
    def _now(ahead: float = 0.0) -> int:
        """The time step now, or ``ahead`` seconds from now."""
        return int((time.time() + ahead) // STEP_SECONDS)

    async def code(self) -> str:
        """A code the service takes now and in the next few seconds (one step early at
        most), of a step later than the last one used."""
        step = self._now(ahead=5) - 1
        if self.last_step is not None:
            step = max(step, self.last_step + 1)
        await eventually(
            lambda: step <= self._now() + 1, timeout=STEP_SECONDS + 5, what="the next time step"
        )
        self.last_step = step
        return self.totp.generate_otp(step)

    def wrong_code(self) -> str:
        """Six digits that are no code of the steps around now."""
        now = self._now()
        near = {self.totp.generate_otp(step) for step in range(now - 2, now + 3)}
        return next(c for c in (f"{n:06d}" for n in range(123456, 10**6)) if c not in near)


async def turn_on(client: ApiClient, password: str) -> Authenticator:
    """Turn two-step verification on for the client's user: the password, then a code."""
    setup = await client.json("POST", "identity", "/me/two-factor", json={"password": password})
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    app = Authenticator(setup["secret"], [])
    confirmed = await client.json(
        "POST", "identity", "/me/two-factor/confirm", json={"code": await app.code()}
    )
    app.recovery_codes = confirmed["recovery_codes"]
    client.adopt(confirmed["session"])  # every other session, this one's too, ended
    return app
