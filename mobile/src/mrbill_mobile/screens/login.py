"""Log in or sign up. The password goes to the API and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import toga
from toga.style import Pack

from ..api import ApiError
from .ui import column, error_label, field, hideable, holder, say, set_shown, title

if TYPE_CHECKING:
    from ..app import MrBillApp


class LoginScreen:
    def __init__(self, app: MrBillApp) -> None:
        self.app = app
        t = app.t
        self.signing_up = False
        self.heading = title(t("login.title"))
        self.organization = toga.TextInput(id="organization")
        self.full_name = toga.TextInput(id="full_name")
        self.signup_fields = column(
            field(t("signup.organization"), self.organization),
            field(t("signup.full_name"), self.full_name),
        )
        self.email = toga.TextInput(id="email", placeholder="you@company.com")
        self.password = toga.PasswordInput(id="password", on_confirm=self.submit)
        self.message = error_label()
        self.submit_button = toga.Button(
            t("login.submit"), id="submit", on_press=self.submit, style=Pack(margin=(12, 0, 4, 0))
        )
        self.switch_button = toga.Button(t("login.to_signup"), id="switch", on_press=self.toggle)
        # Resetting a password happens in the browser: the link comes by e-mail.
        self.forgot_button = toga.Button(t("login.forgot"), id="forgot", on_press=self.forgot)
        forgot = hideable(self.forgot_button, shown=True)
        self.box = column(
            self.heading,
            hideable(self.signup_fields),
            field(t("login.email"), self.email),
            field(t("login.password"), self.password),
            holder(self.message),
            self.submit_button,
            forgot,
            self.switch_button,
            margin=16,
        )

    def say(self, text: str | None) -> None:
        say(self.message, text)

    def toggle(self, widget: toga.Widget | None = None) -> None:
        t = self.app.t
        self.signing_up = not self.signing_up
        set_shown(self.signup_fields, self.signing_up)
        set_shown(self.forgot_button, not self.signing_up)
        self.heading.text = t("signup.title" if self.signing_up else "login.title")
        self.submit_button.text = t("signup.submit" if self.signing_up else "login.submit")
        self.switch_button.text = t("signup.to_login" if self.signing_up else "login.to_signup")
        self.say(None)

    def forgot(self, widget: toga.Widget | None = None) -> None:
        self.app.opener(f"{self.app.config.api_url.rstrip('/')}/password/forgotten")

    def submit(self, widget: toga.Widget | None = None, **kwargs: Any) -> None:
        self.app.spawn(self._submit())

    async def _submit(self) -> None:
        self.say(None)
        self.submit_button.enabled = False
        try:
            if self.signing_up:
                await self.app.identity.sign_up(
                    self.organization.value, self.full_name.value,
                    self.email.value.strip(), self.password.value,
                )  # fmt: skip
            else:
                await self.app.identity.login(self.email.value.strip(), self.password.value)
        except ApiError as exc:
            fields = exc.field_errors
            self.say("\n".join(f"{k}: {v}" for k, v in fields.items()) or exc.message)
            return
        finally:
            self.submit_button.enabled = True
            self.password.value = ""  # never kept around once used
        await self.app.signed_in()
