"""The POC list: search box, language and tag filters, rows, infinite scroll."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import toga
from toga.style import Pack

from ..api import Poc
from ..logic.poc_list import ListState, PocList
from .ui import MUTED, caption, column, error_label, hideable, holder, row, say, set_shown, wrap

if TYPE_CHECKING:
    from ..app import MrBillApp

NEAR_BOTTOM = 0.85  # load the next page when scrolled past this fraction
ROW_WIDTH = 38  # characters of a row's text that fit beside its Edit button on a phone


class PocListScreen:
    def __init__(self, app: MrBillApp) -> None:
        self.app = app
        t = app.t
        self.model = PocList(app.search, self.render)
        self.query = toga.TextInput(
            id="query", placeholder=t("pocs.search"), on_change=self._typed, style=Pack(flex=1)
        )
        self._filling = False  # true while the filters are refilled from facets
        self._resetting = False  # true while reset() empties the search box
        self._filled: dict[str, list[str]] = {}  # what each filter holds now
        self.language = toga.Selection(
            id="language", items=[t("pocs.all_languages")], on_change=self._filtered,
            style=Pack(flex=1),
        )  # fmt: skip
        self.tag = toga.Selection(
            id="tag", items=[t("pocs.all_tags")], on_change=self._filtered, style=Pack(flex=1)
        )
        self.count = caption()
        self.error = error_label()  # why the last search failed
        self.rows = column()
        self.more = toga.Button(t("pocs.more"), id="more", on_press=self._more)
        self.scroll = toga.ScrollContainer(
            content=column(self.rows, hideable(self.more)), horizontal=False,
            on_scroll=self._scrolled, style=Pack(flex=1),
        )  # fmt: skip
        self.box = column(
            row(self.query, margin=(0, 0, 4, 0)),
            row(self.language, self.tag, gap=4),
            row(
                toga.Box(style=Pack(flex=1)),
                toga.Button(t("pocs.refresh"), id="refresh", on_press=self._refresh),
                toga.Button(t("pocs.new"), id="new", on_press=lambda w: app.show_form()),
                gap=4, margin=(4, 0),
            ),
            self.count,
            holder(self.error),
            self.scroll,
            margin=8, flex=1,
        )  # fmt: skip

    def reset(self) -> None:
        """Forget the list (at log-out), without searching for the emptied box."""
        self.model = PocList(self.app.search, self.render)
        self._resetting = True
        try:
            self.query.value = ""
        finally:
            self._resetting = False
        self.rows.clear()

    # -- events -----------------------------------------------------------------------------

    def _typed(self, widget: toga.TextInput) -> None:
        if not self._resetting:
            self.app.spawn(self.model.type_query(widget.value))

    def _filtered(self, widget: toga.Selection) -> None:
        if self._filling:
            return
        t = self.app.t
        language = _facet_value(self.language.value, t("pocs.all_languages"))
        tag = _facet_value(self.tag.value, t("pocs.all_tags"))
        self.app.spawn(self.model.set_filters(language=language, tag=tag))

    def _refresh(self, widget: toga.Widget | None = None) -> None:
        self.app.spawn(self.model.refresh())

    def _more(self, widget: toga.Widget | None = None) -> None:
        self.app.spawn(self.model.load_more())

    def _scrolled(self, widget: toga.ScrollContainer, **kwargs: Any) -> None:
        bottom = widget.max_vertical_position
        if bottom and widget.vertical_position >= bottom * NEAR_BOTTOM:
            self._more()

    # -- drawing ----------------------------------------------------------------------------

    def render(self, state: ListState) -> None:
        t = self.app.t
        self._fill(self.language, t("pocs.all_languages"), state.language,
                   [f"{f.value} ({f.count})" for f in state.languages])  # fmt: skip
        self._fill(self.tag, t("pocs.all_tags"), state.tag,
                   [f"{f.value} ({f.count})" for f in state.tags])  # fmt: skip
        if state.loading and not state.items:
            self.count.text = t("pocs.loading")
        elif state.loaded and not state.items:
            searched = state.query.strip() or state.language or state.tag
            self.count.text = t("pocs.no_match" if searched else "pocs.empty")
        else:
            self.count.text = t("pocs.count", shown=len(state.items), total=state.total)
        say(self.error, state.error)
        self.rows.clear()
        for poc in state.items:
            self.rows.add(self._row(poc))
        set_shown(self.more, state.has_more)
        self.more.enabled = not state.loading

    def _fill(self, selection: toga.Selection, everything: str, chosen: str | None,
              values: list[str]) -> None:  # fmt: skip
        current = next((v for v in values if _facet_value(v, everything) == chosen), None)
        if chosen and current is None:  # chosen, but nothing matches now: still chosen
            current = f"{chosen} (0)"
            values = [*values, current]
        items = [everything, *values]
        current = current or everything
        if self._filled.get(str(selection.id)) == items and selection.value == current:
            return
        self._filling = True
        try:
            self._filled[str(selection.id)] = items
            selection.items = items
            selection.value = current
        finally:
            self._filling = False

    def _row(self, poc: Poc) -> toga.Box:
        t = self.app.t
        details = " · ".join(
            part for part in (poc.language, t(f"status.{poc.status}"), ", ".join(poc.tags)) if part
        )
        # Broken into lines beside the Edit button: a label does not wrap, and a long name
        # (up to 100 characters) would push the button off a phone's screen.
        text = column(
            toga.Label(wrap(poc.name, ROW_WIDTH), style=Pack(font_weight="bold")),
            toga.Label(wrap(details, ROW_WIDTH), style=Pack(color=MUTED)),
            flex=1,
        )
        edit = toga.Button(t("pocs.edit"), id=f"edit-{poc.poc_id}",
                           on_press=lambda w: self.app.show_form(poc.poc_id))  # fmt: skip
        return row(text, edit, margin=(6, 0), gap=4)


def _facet_value(label: object, everything: object) -> str | None:
    """ "python (3)" -> "python"; the "All ..." entry -> None."""
    if not label or label == everything:
        return None
    return str(label).rsplit(" (", 1)[0]
