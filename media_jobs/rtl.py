"""Right-to-left text (Hebrew, Arabic) in the PDF report, in the order a reader sees it.

A PDF shows glyphs where they are drawn; it has no notion of reading order. reportlab can
reorder right-to-left text itself only with ``rlbidi``, a package that is not on PyPI (its
``uharfbuzz`` shaping also needs a bidi pass to order the words of a line). So the Unicode
Bidirectional Algorithm runs here, with python-bidi (the Rust ``unicode-bidi`` crate), and
Arabic letters are first given their joined forms by arabic-reshaper. Reordering is per
*line*: :class:`BidiParagraph` wraps the text in logical order at the width the layout
gives it, then reorders each line, so a long Hebrew description reads from the top right.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from xml.sax.saxutils import escape

import arabic_reshaper
from bidi import get_display
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import simpleSplit
from reportlab.platypus import Flowable, Paragraph

from .fonts import is_rtl

_RTL_CLASSES = frozenset({"R", "AL"})
# Vowel marks (harakat) are kept: DejaVu draws a mark over the letter drawn after it, which
# is where the visual order puts it.
_ARABIC = arabic_reshaper.ArabicReshaper(configuration={"delete_harakat": False})


def has_rtl(text: str) -> bool:
    """Whether ``text`` has any right-to-left letter (then it needs reordering)."""
    return any(unicodedata.bidirectional(char) in _RTL_CLASSES for char in text)


def visual(text: str) -> str:
    """One line of ``text`` in visual (left-to-right drawing) order, Arabic letters joined."""
    if not has_rtl(text):
        return text
    return get_display(_ARABIC.reshape(text), base_dir="R" if is_rtl(text) else "L")


def right_aligned(style: ParagraphStyle) -> ParagraphStyle:
    """``style`` aligned to the right, unless it is centred or justified on purpose."""
    if style.alignment != TA_LEFT:
        return style
    return ParagraphStyle(f"{style.name}-rtl", style, alignment=TA_RIGHT)


class BidiParagraph(Flowable):
    """Plain text with right-to-left parts, wrapped in logical order, drawn in visual order.

    Behaves like a reportlab ``Paragraph`` of ``text`` (escaped, never markup); a
    right-to-left paragraph is right-aligned.
    """

    def __init__(self, text: str, style: ParagraphStyle) -> None:
        super().__init__()
        self.rtl = is_rtl(text)
        self.style = right_aligned(style) if self.rtl else style
        self._logical = _ARABIC.reshape(text)  # joined forms change widths
        self._laid: tuple[float, Paragraph] | None = None

    def _paragraph(self, width: float) -> Paragraph:
        if self._laid is None or self._laid[0] != width:
            style = self.style
            usable = max(1.0, width - style.leftIndent - style.rightIndent)
            lines = simpleSplit(self._logical, style.fontName, style.fontSize, usable)
            base = "R" if self.rtl else "L"
            markup = "<br/>".join(escape(get_display(line, base_dir=base)) for line in lines)
            self._laid = (width, Paragraph(markup, style))
        return self._laid[1]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width, self.height = self._paragraph(availWidth).wrap(availWidth, availHeight)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Any]:
        return self._paragraph(availWidth).split(availWidth, availHeight)

    def minWidth(self) -> float:
        return self._paragraph(self.width or 1.0).minWidth()

    def getSpaceBefore(self) -> float:
        return float(self.style.spaceBefore)

    def getSpaceAfter(self) -> float:
        return float(self.style.spaceAfter)

    def draw(self) -> None:
        assert self._laid is not None, "wrap() comes before draw()"
        self._laid[1].drawOn(self.canv, 0, 0)
