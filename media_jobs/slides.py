"""Video frames drawn with Pillow: title card, one slide per POC, closing summary.

Text goes through Pillow's Raqm layout (bundled in its wheels: HarfBuzz + FriBiDi), so Arabic
is shaped and right-to-left text is ordered and right-aligned; it is cleaned and capped first.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from .figures import Figures
from .fonts import clean, font_files, is_rtl
from .i18n import format_date, month_label, status_label, words

W, H = 1280, 720
BG_TOP, BG_BOTTOM = (24, 27, 56), (52, 44, 110)
ACCENT = (124, 140, 255)
WHITE, MUTED = (245, 246, 252), (176, 182, 214)
CHIP = (70, 78, 150)


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    files = font_files()
    return ImageFont.truetype(str(files.bold if bold else files.regular), size)


@cache
def _background() -> Image.Image:
    gradient = Image.linear_gradient("L").resize((W, H))
    top, bottom = Image.new("RGB", (W, H), BG_TOP), Image.new("RGB", (W, H), BG_BOTTOM)
    return Image.composite(bottom, top, gradient)


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = _background().copy()
    return image, ImageDraw.Draw(image)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels; overlong words are cut; ellipsis past max_lines."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while face.getlength(word) > width:  # a word wider than the line: hard-split it
            cut = max(1, int(len(word) * width / face.getlength(word)) - 1)
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}".strip()
        if face.getlength(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and face.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    face: Any,
    fill: tuple[int, int, int],
    width: int,
) -> None:
    """Draw one line, right-aligned inside ``width`` when it reads right to left."""
    x, y = xy
    if is_rtl(text):
        x += int(width - draw.textlength(text, font=face))
    draw.text((x, y), text, font=face, fill=fill)


def _paragraph(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    face: Any,
    fill: tuple[int, int, int],
    width: int,
    max_lines: int,
    leading: int,
) -> int:
    x, y = xy
    for line in wrap(text, face, width, max_lines):
        _text(draw, (x, y), line, face, fill, width)
        y += leading
    return y


def _chips(draw: ImageDraw.ImageDraw, x: int, y: int, labels: list[str], right: int) -> int:
    face = font(22)
    for label in labels:
        width = int(draw.textlength(label, font=face)) + 28
        if x + width > right:
            break
        draw.rounded_rectangle((x, y, x + width, y + 38), radius=19, fill=CHIP)
        draw.text((x + 14, y + 7), label, font=face, fill=WHITE)
        x += width + 10
    return y + 38


def title_card(title: str, subtitle: str, count_line: str) -> Image.Image:
    image, draw = _canvas()
    draw.rectangle((96, 250, 104, 430), fill=ACCENT)
    y = _paragraph(
        draw, (130, 240), clean(title, single_line=True), font(64, True), WHITE, W - 260, 2, 76
    )
    draw.text((130, y + 14), subtitle, font=font(30), fill=MUTED)
    draw.text((130, y + 64), count_line, font=font(30, True), fill=ACCENT)
    draw.text((W - 240, H - 70), "Mr Bill", font=font(28, True), fill=MUTED)
    return image


def poc_slide(poc: dict[str, Any], index: int, total: int, language: str) -> Image.Image:
    w = words(language)
    image, draw = _canvas()
    left, right = 110, W - 110
    draw.rounded_rectangle((70, 60, W - 70, H - 80), radius=28, fill=(32, 36, 78))
    draw.text((left, 92), f"{index} / {total}", font=font(24), fill=MUTED)
    name = clean(poc.get("name"), limit=120, single_line=True) or "—"
    y = _paragraph(draw, (left, 132), name, font(50, True), WHITE, right - left, 2, 60)
    language_name = clean(poc.get("language"), limit=40, single_line=True) or w["none"]
    draw.text((left, y + 12), language_name, font=font(30, True), fill=ACCENT)
    tags = [clean(t, limit=24, single_line=True) for t in (poc.get("tags") or [])[:12]]
    y = _chips(draw, left, y + 62, [t for t in tags if t], right) + 26
    description = clean(poc.get("description"), limit=600, single_line=True)
    if description:
        y = _paragraph(draw, (left, y), description, font(26), WHITE, right - left, 5, 36)
    dates = f"{w['created']} {format_date(poc.get('created_at'), language)}"
    if poc.get("started_on") or poc.get("finished_on"):
        dates = (
            f"{format_date(poc.get('started_on'), language)} → "
            f"{format_date(poc.get('finished_on'), language)}"
        )
    status = clean(status_label(poc.get("status"), language), limit=30, single_line=True)
    footer = f"{dates}   ·   {status}" if status else dates
    draw.text((left, H - 140), footer, font=font(24), fill=MUTED)
    # Progress through the year's slides.
    draw.rectangle((0, H - 8, W, H), fill=(40, 44, 90))
    draw.rectangle((0, H - 8, int(W * index / max(total, 1)), H), fill=ACCENT)
    return image


def closing_card(figures: Figures, language: str, empty: bool) -> Image.Image:
    w = words(language)
    image, draw = _canvas()
    if empty:
        draw.text((110, 260), w["empty_title"], font=font(52, True), fill=WHITE)
        _paragraph(draw, (110, 350), w["empty_body"], font(30), MUTED, W - 220, 2, 42)
        return image
    draw.text((110, 80), w["closing"], font=font(60, True), fill=WHITE)
    span = figures.months_span_years
    counts = [n for _, n in figures.by_month]
    busiest = max(range(len(counts)), key=lambda m: counts[m]) if counts else 0
    stats = [
        (str(figures.total), w["total"]),
        (
            clean(figures.by_language[0][0], limit=11, single_line=True)
            if figures.by_language
            else "—",
            w["most_used"],
        ),
        (
            month_label(figures.by_month[busiest][0], language, with_year=span) if counts else "—",
            w["busiest"],
        ),
    ]
    for i, (value, label) in enumerate(stats):
        x = 110 + i * 360
        draw.text((x, 190), value, font=font(54, True), fill=ACCENT)
        draw.text((x, 258), label, font=font(24), fill=MUTED)
    top = max(counts, default=0) or 1
    step = (W - 220) // max(len(counts), 12)  # 88 px for a year's 12 months
    for m, (month, count) in enumerate(figures.by_month):  # a small bar chart of the months
        x = 110 + m * step
        height = int(220 * count / top)
        draw.rounded_rectangle(
            (x, 560 - height, x + step * 2 // 3, 560),
            radius=min(6, step // 6),
            fill=ACCENT if m == busiest else CHIP,
        )
        centre = x + step // 3
        if not span:
            draw.text(
                (centre, 572), month_label(month, language), font=font(20), fill=MUTED, anchor="ma"
            )
        elif m == 0 or month.month == 1:  # too many bars to name: mark where each year starts
            draw.text((x, 572), str(month.year), font=font(20), fill=MUTED, anchor="la")
        if count and (not span or m == busiest):
            draw.text((centre, 552 - height), str(count), font=font(20), fill=WHITE, anchor="md")
    tags = [clean(t, limit=24, single_line=True) for t, _ in figures.top_tags[:6]]
    _chips(draw, 110, 625, [f"#{t}" for t in tags if t], W - 110)
    return image
