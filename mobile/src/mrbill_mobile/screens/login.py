"""Log in (with a second step for accounts with two-step verification) or sign up.
The password goes to the API and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import toga
from toga.style import Pack

from ..api import ApiError, TwoFactorExpired, TwoFactorRequired
from ..i18n import problem_text
from .ui import caption, column, error_label, field, hideable, holder, say, set_shown, title, wrap

if TYPE_CHECKING:
    from ..app import MrBillApp


class LoginScreen:
    """Three steps on one screen: log in, sign up, and the code of a two-step log-in."""

    def __init__(self, app: MrBillApp) -> None:
        self.app = app
        t = app.t
        self.signing_up = False
        self.challenge: str | None = None  # set while the log-in waits for a code
        self.heading = title(t("login.title"))
        self.organization = toga.TextInput(id="organization")
        self.full_name = toga.TextInput(id="full_name")
        # The API's validation messages, under the fields they are about.
        self.errors = {
            name: error_label() for name in ("organization", "full_name", "email", "password")
        }
        self.signup_fields = column(
            field(t("signup.organization"), self.organization, self.errors["organization"]),
            field(t("signup.full_name"), self.full_name, self.errors["full_name"]),
        )
        self.email = toga.TextInput(id="email", placeholder="you@company.com")
        self.password = toga.PasswordInput(id="password", on_confirm=self.submit)
        self.credentials = column(
            field(t("login.email"), self.email, self.errors["email"]),
            field(t("login.password"), self.password, self.errors["password"]),
        )
        # A text field, not a number: recovery codes (``abcde-fghij``) go in it too.
        self.code = toga.TextInput(id="code", placeholder="123456", on_confirm=self.submit)
        self.code_hint = caption(wrap(t("two_factor.hint")))
        self.code_fields = column(self.code_hint, field(t("two_factor.code"), self.code))
        self.message = error_label()
        self.submit_button = toga.Button(
            t("login.submit"), id="submit", on_press=self.submit, style=Pack(margin=(12, 0, 4, 0))
        )
        self.switch_button = toga.Button(t("login.to_signup"), id="switch", on_press=self.toggle)
        # Resetting a password happens in the browser: the link comes by e-mail.
        self.forgot_button = toga.Button(t("login.forgot"), id="forgot", on_press=self.forgot)
        self.back_button = toga.Button(t("two_factor.back"), id="back", on_press=self.back)
        self.box = column(
            self.heading,
            hideable(self.signup_fields),
            hideable(self.credentials, shown=True),
            hideable(self.code_fields),
            holder(self.message),
            self.submit_button,
            hideable(self.forgot_button, shown=True),
            hideable(self.switch_button, shown=True),
            hideable(self.back_button),
            margin=16,
        )

    def say(self, text: str | None, fields: dict[str, str] | None = None) -> None:
        """A message for the screen, and the validation messages under their fields."""
        say(self.message, text)
        for name, label in self.errors.items():
            say(label, (fields or {}).get(name))

    def _layout(self) -> None:
        """Show the step at hand: log in, sign up, or the code of a two-step log-in."""
        t = self.app.t
        code = self.challenge is not None
        step = "two_factor" if code else "signup" if self.signing_up else "login"
        set_shown(self.signup_fields, step == "signup")
        set_shown(self.credentials, not code)
        set_shown(self.code_fields, code)
        set_shown(self.forgot_button, step == "login")
        set_shown(self.switch_button, not code)
        set_shown(self.back_button, code)
        self.heading.text = t(f"{step}.title")
        self.submit_button.text = t(f"{step}.submit")
        self.switch_button.text = t("signup.to_login" if self.signing_up else "login.to_signup")

    def toggle(self, widget: toga.Widget | None = None) -> None:
        self.signing_up = not self.signing_up
        self._layout()
        self.say(None)

    def ask_for_code(self, challenge: str) -> None:
        """The password was right; the account wants a code from its authenticator app too."""
        self.challenge = challenge
        self._layout()
        self.code.focus()

    def back(self, widget: toga.Widget | None = None) -> None:
        self.to_password(None)

    def to_password(self, message: str | None) -> None:
        """Leave the code step (by choice, or because its challenge expired)."""
        self.challenge = None
        self._layout()
        self.say(message)
        self.password.focus()

    def forgot(self, widget: toga.Widget | None = None) -> None:
        self.app.opener(f"{self.app.config.api_url.rstrip('/')}/password/forgotten")

    def submit(self, widget: toga.Widget | None = None, **kwargs: Any) -> None:
        self.app.spawn(self._submit())

    async def _submit(self) -> None:
        self.say(None)
        self.submit_button.enabled = False
        try:
            await self._send()
        except TwoFactorRequired as exc:
            self.ask_for_code(exc.challenge)
            return
        except TwoFactorExpired as exc:
            self.to_password(exc.message)
            return
        except ApiError as exc:  # a wrong code too: the challenge stays, try again
            fields = exc.field_errors
            other = "\n".join(f"{k}: {v}" for k, v in fields.items() if k not in self.errors)
            if fields and not other:
                other = self.app.t("form.fix_fields")
            self.say(other or problem_text(self.app.t, exc.message, exc.retry_after), fields)
            return
        finally:
            self.submit_button.enabled = True
            self.password.value = ""  # never kept around once used
            self.code.value = ""  # nor a recovery code
        self.challenge = None  # the next log-in (after logging out) starts from the password
        self._layout()
        await self.app.signed_in()

    async def _send(self) -> None:
        identity = self.app.identity
        if self.challenge is not None:
            await identity.login_two_factor(self.challenge, self.code.value.strip())
        elif self.signing_up:
            await identity.sign_up(
                self.organization.value, self.full_name.value,
                self.email.value.strip(), self.password.value,
            )  # fmt: skip
        else:
            await identity.login(self.email.value.strip(), self.password.value)
