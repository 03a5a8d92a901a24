"""Shared styles and small widget helpers for the screens."""

from __future__ import annotations

import textwrap
from typing import Any

import toga
from toga.style import Pack

MUTED = "#555555"
ERROR = "#b91c1c"
ACCENT = "#0f766e"


def column(*children: toga.Widget, **style: Any) -> toga.Box:
    return toga.Box(children=list(children), style=Pack(direction="column", **style))


def row(*children: toga.Widget, **style: Any) -> toga.Box:
    return toga.Box(children=list(children), style=Pack(direction="row", **style))


def title(text: str) -> toga.Label:
    return toga.Label(text, style=Pack(font_size=18, font_weight="bold", margin=(8, 0)))


def caption(text: str = "") -> toga.Label:
    return toga.Label(text, style=Pack(color=MUTED, margin=(2, 0)))


def hideable(widget: toga.Widget, *, shown: bool = False) -> toga.Box:
    """Wrap ``widget`` in a holder box, so that hiding it frees its space.

    (Toga 0.5's ``visibility`` keeps the space and its backends ignore ``display: none``, so
    a hidden widget is taken out of its holder instead.) Place the holder in the layout.
    """
    holder = toga.Box(style=Pack(direction="column", flex=widget.style.flex))
    widget._mrbill_holder = holder  # type: ignore[attr-defined]
    set_shown(widget, shown)
    return holder


def set_shown(widget: toga.Widget, shown: bool) -> None:
    holder: toga.Box = widget._mrbill_holder  # type: ignore[attr-defined]
    if shown and widget.parent is None:
        holder.add(widget)
    elif not shown and widget.parent is holder:
        holder.remove(widget)


def is_shown(widget: toga.Widget) -> bool:
    return widget.parent is not None


def error_label() -> toga.Label:
    """A red message (place `holder(label)` in the layout); takes no space while empty."""
    label = toga.Label("", style=Pack(color=ERROR))
    hideable(label)
    return label


def holder(widget: toga.Widget) -> toga.Box:
    return widget._mrbill_holder  # type: ignore[attr-defined, no-any-return]


def wrap(text: str | None, width: int = 52) -> str:
    """Break ``text`` into lines that fit a phone's width: labels do not wrap by themselves."""
    return "\n".join(textwrap.fill(line, width) for line in (text or "").splitlines())


def say(label: toga.Label, text: str | None, width: int = 52) -> None:
    """Show ``text`` (wrapped), or hide the label."""
    label.text = wrap(text, width)
    set_shown(label, bool(text))


def field(label: str, widget: toga.Widget, error: toga.Label | None = None) -> toga.Box:
    parts: list[toga.Widget] = [toga.Label(label, style=Pack(margin=(6, 0, 2, 0))), widget]
    if error is not None:
        parts.append(holder(error))
    return column(*parts)
