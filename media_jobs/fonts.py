"""Fonts for PDFs and video frames, and text made safe for them.

DejaVu Sans (Debian's ``fonts-dejavu-core``, installed by ``./mrbill``) covers Latin, Greek,
Cyrillic, Hebrew, Arabic and many symbols; when it is missing we fall back to the Vera fonts
that ship inside reportlab (Latin only). Characters a font has no glyph for (most emoji) are
dropped rather than drawn as empty boxes; control characters never reach a renderer.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import reportlab
from bidi import get_base_level

_SEARCH = (
    os.environ.get("MEDIA_FONT_DIR", ""),
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
)


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path


@cache
def font_files() -> FontFiles:
    """The best available regular/bold TrueType pair."""
    for folder in filter(None, _SEARCH):
        regular, bold = Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf")
        if regular.is_file() and bold.is_file():
            return FontFiles(regular, bold)
    bundled = Path(reportlab.__file__).parent / "fonts"
    return FontFiles(bundled / "Vera.ttf", bundled / "VeraBd.ttf")


@cache
def _coverage() -> frozenset[int]:
    from reportlab.pdfbase.ttfonts import TTFontFile

    return frozenset(TTFontFile(str(font_files().regular)).charToGlyph)


def clean(text: str | None, *, limit: int | None = None, single_line: bool = False) -> str:
    """``text`` without control characters or glyphs the font lacks, optionally shortened."""
    if not text:
        return ""
    covered = _coverage()
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char in "\n\t":
            out.append(" " if single_line or char == "\t" else "\n")
        elif unicodedata.category(char)[0] == "C" and char not in "\u200e\u200f":
            continue
        elif ord(char) in covered or char == " ":
            out.append(char)
    result = " ".join("".join(out).split(" ")) if single_line else "".join(out)
    result = "\n".join(line.rstrip() for line in result.split("\n")).strip()
    if single_line:
        result = " ".join(result.split())
    if limit is not None and len(result) > limit:
        result = result[: max(0, limit - 1)].rstrip() + "…"
    return result


def is_rtl(text: str) -> bool:
    """Whether ``text`` reads right to left (Hebrew, Arabic, …): its first strong letter does.

    That is the Unicode Bidirectional Algorithm's rule for a paragraph's direction (P2-P3),
    the one Raqm (video frames) and python-bidi (the report) order the text by.
    """
    return bool(text) and get_base_level(text) == 1
