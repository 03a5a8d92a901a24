"""Shared styles and small widget helpers for the screens."""

from __future__ import annotations

import toga
from toga.style import Pack

MUTED = "#555555"
ERROR = "#b91c1c"
ACCENT = "#0f766e"


def column(*children: toga.Widget, **style: object) -> toga.Box:
    return toga.Box(children=list(children), style=Pack(direction="column", **style))


def row(*children: toga.Widget, **style: object) -> toga.Box:
    return toga.Box(children=list(children), style=Pack(direction="row", **style))


def title(text: str) -> toga.Label:
    return toga.Label(text, style=Pack(font_size=18, font_weight="bold", margin=(8, 0)))


def caption(text: str = "") -> toga.Label:
    return toga.Label(text, style=Pack(color=MUTED, margin=(2, 0)))


def error_label() -> toga.Label:
    """A red message under a field; takes no space while empty."""
    return toga.Label("", style=Pack(color=ERROR, display="none"))


def say(label: toga.Label, text: str | None) -> None:
    label.text = text or ""
    label.style.display = "pack" if text else "none"


def field(label: str, widget: toga.Widget, error: toga.Label | None = None) -> toga.Box:
    parts: list[toga.Widget] = [toga.Label(label, style=Pack(margin=(6, 0, 2, 0))), widget]
    if error is not None:
        parts.append(error)
    return column(*parts)
