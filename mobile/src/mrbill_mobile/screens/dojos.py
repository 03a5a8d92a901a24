"""Live and upcoming dojos; watch one as an observer (read-only live code)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import toga
from toga.style import Pack

from ..api import Dojo
from ..logic.dojos import NeedsInvite, has_ended, load_dojos, observer_ticket
from .ui import (
    MUTED,
    caption,
    column,
    error_label,
    field,
    hideable,
    holder,
    row,
    say,
    set_shown,
    title,
    wrap,
)

if TYPE_CHECKING:
    from ..app import MrBillApp
    from ..observer import DojoObserver


ROW_WIDTH = 40  # characters of a row's text that fit beside its Watch button on a phone


class DojoScreen:
    def __init__(self, app: MrBillApp) -> None:
        self.app = app
        t = app.t
        self.observer: DojoObserver | None = None
        self.dojo: Dojo | None = None  # the one being watched
        self.live = column()
        self.upcoming = column()
        self.code = toga.TextInput(id="invite-code", placeholder="…#abc123")
        self.message = error_label()
        self.watching = caption()
        self.stop_button = toga.Button(t("dojos.stop"), id="stop", on_press=self._stop)
        self.code_view = toga.MultilineTextInput(
            id="live-code", readonly=True,
            style=Pack(flex=1, font_family="monospace"),
        )  # fmt: skip
        self.box = column(
            title(t("dojos.title")),
            toga.Label(t("dojos.live"), style=Pack(font_weight="bold")),
            self.live,
            toga.Label(t("dojos.upcoming"), style=Pack(font_weight="bold", margin=(8, 0, 0, 0))),
            self.upcoming,
            field(t("dojos.code"), self.code),
            holder(self.message),
            self.watching,
            hideable(self.code_view),
            hideable(self.stop_button),
            margin=8, flex=1,
        )  # fmt: skip

    async def reload(self) -> None:
        lists = await load_dojos(self.app.dojo_source)
        self._fill(self.live, lists.live, watchable=True)
        self._fill(self.upcoming, lists.upcoming, watchable=False)

    def _fill(self, box: toga.Box, dojos: list[Dojo], *, watchable: bool) -> None:
        t = self.app.t
        box.clear()
        if not dojos:
            box.add(caption(t("dojos.none")))
        for dojo in dojos:
            when = (dojo.scheduled_start_time or "")[:16].replace("T", " ")
            details = " · ".join(
                p for p in (dojo.language, when, t("dojos.participants", count=dojo.participant_count)) if p
            )  # fmt: skip
            # Wrapped: a long title would push the Watch button off a phone's screen.
            text = column(toga.Label(wrap(dojo.name, ROW_WIDTH)),
                          toga.Label(wrap(details, ROW_WIDTH), style=Pack(color=MUTED)),
                          flex=1)  # fmt: skip
            parts: list[toga.Widget] = [text]
            if watchable:
                parts.append(toga.Button(t("dojos.watch"), id=f"watch-{dojo.dojo_id}",
                                         on_press=lambda w, d=dojo: self.watch(d)))  # fmt: skip
            box.add(row(*parts, margin=(4, 0)))

    def watch(self, dojo: Dojo) -> None:
        self.app.spawn(self._watch(dojo))

    async def _watch(self, dojo: Dojo) -> None:
        t = self.app.t
        await self.stop()
        try:
            from ..observer import DojoObserver
        except ImportError:  # no pycrdt wheel for this platform
            say(self.message, t("dojos.unavailable"))
            return
        try:
            ticket = await observer_ticket(self.app.dojo_source, dojo.dojo_id, self.code.value)
        except NeedsInvite:
            say(self.message, t("dojos.needs_invite"))
            return
        say(self.message, None)
        self.code.value = ""
        self.dojo = dojo
        self.observer = DojoObserver(
            ticket, self._show_code,
            renew=lambda: self.app.dojo_source.ticket(dojo.dojo_id),
            on_closed=self._closed, on_meta=self._meta,
        )  # fmt: skip
        await self.observer.start()
        self.watching.text = wrap(t("dojos.watching", name=dojo.name))
        set_shown(self.code_view, True)
        set_shown(self.stop_button, True)

    def _meta(self, meta: dict[str, Any]) -> None:
        """The service changed the room's dojo map: if it no longer says active, ask the API."""
        if self.dojo is not None and meta.get("status", "active") != "active":
            self.app.spawn(self._check_ended(self.dojo))

    def _closed(self, code: int | None) -> None:
        """The room closed the connection (ended, removed, ticket refused): say why."""
        if self.dojo is not None:
            self.app.spawn(self._after_close(self.dojo, code))

    async def _after_close(self, dojo: Dojo, code: int | None) -> None:
        if not await self._check_ended(dojo):
            say(self.message, self.app.t("dojos.closed", code=code or "-"))

    async def _check_ended(self, dojo: Dojo) -> bool:
        """If the dojo is over: stop watching, keep its final code on screen and say so."""
        if self.dojo is not dojo or not await has_ended(self.app.dojo_source, dojo.dojo_id):
            return False
        if self.dojo is dojo:
            if self.observer is not None:
                await self.observer.close()
                self.observer = None
            say(self.message, None)
            self.watching.text = wrap(self.app.t("dojos.ended", name=dojo.name))
        return True

    def _show_code(self, code: str) -> None:
        self.code_view.value = code

    def _stop(self, widget: toga.Widget | None = None) -> None:
        self.app.spawn(self.stop())

    async def stop(self) -> None:
        self.dojo = None
        if self.observer is not None:
            await self.observer.close()
            self.observer = None
        self.watching.text = ""
        set_shown(self.code_view, False)
        set_shown(self.stop_button, False)
