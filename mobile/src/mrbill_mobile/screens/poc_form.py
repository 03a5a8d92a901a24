"""Create, edit or delete a POC; the API's validation messages appear under their fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

import toga
from toga.style import Pack

from ..api import STATUSES, VISIBILITIES
from ..logic.poc_form import PocForm
from .ui import column, error_label, field, hideable, holder, row, say, set_shown, title

if TYPE_CHECKING:
    from ..app import MrBillApp

TEXT_FIELDS = ("name", "language", "tags", "repository_url")


class PocFormScreen:
    def __init__(self, app: MrBillApp) -> None:
        self.app = app
        t = app.t
        self.form = PocForm()
        self.heading = title(t("form.new"))
        self.inputs: dict[str, toga.TextInput] = {
            name: toga.TextInput(id=f"form-{name}") for name in TEXT_FIELDS
        }
        self.inputs["tags"].placeholder = "python, fastapi, kafka"
        self.description = toga.MultilineTextInput(id="form-description", style=Pack(height=90))
        self.status = toga.Selection(id="form-status", items=[t(f"status.{s}") for s in STATUSES])
        self.visibility = toga.Selection(
            id="form-visibility", items=[t(f"visibility.{v}") for v in VISIBILITIES]
        )
        self.errors = {name: error_label() for name in (*TEXT_FIELDS, "description")}
        self.message = error_label()
        self.save_button = toga.Button(t("form.save"), id="save", on_press=self.save,
                                       style=Pack(flex=1))  # fmt: skip
        self.delete_button = toga.Button(t("form.delete"), id="delete", on_press=self.delete,
                                         style=Pack(flex=1))  # fmt: skip
        cancel = toga.Button(t("form.cancel"), id="cancel", on_press=lambda w: app.show_pocs(),
                             style=Pack(flex=1))  # fmt: skip
        labels = {name: t(f"form.{name}") for name in (*TEXT_FIELDS, "description")}
        fields = [field(labels[n], self.inputs[n], self.errors[n]) for n in TEXT_FIELDS]
        fields.insert(1, field(labels["description"], self.description, self.errors["description"]))
        self.box = column(
            self.heading,
            toga.ScrollContainer(
                content=column(
                    *fields,
                    row(field(t("form.status"), self.status),
                        field(t("form.visibility"), self.visibility), gap=8),
                    margin=(0, 4),
                ),
                horizontal=False, style=Pack(flex=1),
            ),
            holder(self.message),
            row(self.save_button, hideable(self.delete_button), cancel, gap=4, margin=(8, 0)),
            margin=8, flex=1,
        )  # fmt: skip

    async def open(self, poc_id: str | None) -> None:
        """Show an empty form, or load the POC (fresh, with its version for the ETag).

        Until it is loaded nothing can be saved: an empty form saved would make a new POC.
        If it cannot be loaded (offline, gone), back to the list, where the banner says why.
        """
        self._show(PocForm())
        self.heading.text = self.app.t("form.edit" if poc_id else "form.new")
        set_shown(self.delete_button, bool(poc_id))
        if not poc_id:
            return
        self.save_button.enabled = self.delete_button.enabled = False
        try:
            poc = await self.app.pocs.get(poc_id)
        except BaseException:
            if self.app.body.children == [self.box] and self.form.editing is None:
                self.app.show_pocs()
            raise
        finally:
            self.save_button.enabled = self.delete_button.enabled = True
        self._show(PocForm.for_poc(poc))

    def _show(self, form: PocForm) -> None:
        t = self.app.t
        self.form = form
        for name, widget in self.inputs.items():
            widget.value = getattr(form, name)
        self.description.value = form.description
        self.status.value = t(f"status.{form.status}")
        self.visibility.value = t(f"visibility.{form.visibility}")
        self._messages()

    def _read(self) -> None:
        t = self.app.t
        for name, widget in self.inputs.items():
            setattr(self.form, name, widget.value)
        self.form.description = self.description.value
        self.form.status = next(s for s in STATUSES if t(f"status.{s}") == self.status.value)
        self.form.visibility = next(
            v for v in VISIBILITIES if t(f"visibility.{v}") == self.visibility.value
        )

    def _messages(self) -> None:
        for name, label in self.errors.items():
            say(label, self.form.errors.get(name))
        t = self.app.t
        fix = t("form.fix_fields") if self.form.errors else None
        conflict = t("form.conflict") if self.form.conflict else None
        say(self.message, self.form.message or conflict or fix)

    def save(self, widget: toga.Widget | None = None) -> None:
        self.app.spawn(self._save())

    async def _save(self) -> None:
        self._read()
        self.save_button.enabled = False
        try:
            saved = await self.form.save(self.app.pocs)
        finally:
            self.save_button.enabled = True
        if self.form.conflict:  # the fields now show their changes, with this person's
            self._show(self.form)
        self._messages()
        if saved is not None:
            self.app.list_screen.model.upsert(saved)
            self.app.show_pocs()

    def delete(self, widget: toga.Widget | None = None) -> None:
        self.app.spawn(self._delete())

    async def _delete(self) -> None:
        poc = self.form.editing
        if poc is None:
            return
        await self.app.pocs.delete(poc)
        self.app.list_screen.model.remove(poc.poc_id)
        self.app.show_pocs()
