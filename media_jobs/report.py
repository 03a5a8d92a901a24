"""The PDF report (reportlab): cover, summary charts, and a table of every POC.

Text is cleaned (:func:`media_jobs.fonts.clean`) and capped before layout, long words are
split, so no POC can break the page layout. Hebrew and Arabic text is drawn in visual order
(:mod:`media_jobs.rtl`), and right-to-left paragraphs are right-aligned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from .figures import Figures, summarize
from .fonts import clean, font_files
from .i18n import format_date, format_period, month_label, status_label, words
from .rtl import BidiParagraph, has_rtl, visual

Progress = Callable[[int], None]
INK = colors.HexColor("#1f2340")
ACCENT = colors.HexColor("#4c5bd4")
SOFT = colors.HexColor("#eef0fb")
MUTED = colors.HexColor("#6b7088")
PALETTE = [
    colors.HexColor(c)
    for c in (
        "#4c5bd4",
        "#22a39f",
        "#f2a541",
        "#e0605e",
        "#8e6bd1",
        "#3fa34d",
        "#d45c9e",
        "#5a8dee",
        "#a0a4b8",
        "#c58940",
    )
]
WIDTH, HEIGHT = A4
MARGIN = 18 * mm


@cache
def _fonts() -> tuple[str, str]:
    files = font_files()
    pdfmetrics.registerFont(TTFont("MrBill", str(files.regular)))
    pdfmetrics.registerFont(TTFont("MrBill-Bold", str(files.bold)))
    pdfmetrics.registerFontFamily("MrBill", normal="MrBill", bold="MrBill-Bold")
    return "MrBill", "MrBill-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    base = ParagraphStyle(
        "base", fontName=regular, fontSize=9, leading=12, textColor=INK, splitLongWords=True
    )
    return {
        "base": base,
        "cover": ParagraphStyle("cover", base, fontName=bold, fontSize=34, leading=40),
        "subtitle": ParagraphStyle("sub", base, fontSize=14, leading=20, textColor=MUTED),
        "h1": ParagraphStyle("h1", base, fontName=bold, fontSize=18, leading=24, spaceAfter=8),
        "cell": ParagraphStyle("cell", base, fontSize=8, leading=10.5),
        "small": ParagraphStyle("small", base, fontSize=7, leading=9, textColor=MUTED),
        "head": ParagraphStyle("head", base, fontName=bold, fontSize=8, textColor=colors.white),
        "stat": ParagraphStyle(
            "stat",
            base,
            fontName=bold,
            fontSize=26,
            leading=30,
            alignment=TA_CENTER,
            textColor=ACCENT,
        ),
        "stat_label": ParagraphStyle("statl", base, alignment=TA_CENTER, textColor=MUTED),
        "empty": ParagraphStyle("empty", base, fontSize=13, leading=18, alignment=TA_CENTER),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph | BidiParagraph:
    """Plain ``text`` (never markup) as a paragraph; right-to-left text in visual order."""
    if has_rtl(text):
        return BidiParagraph(text, style)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _stat_cards(figures: Figures, w: dict[str, str], st: dict[str, ParagraphStyle]) -> Table:
    values = [
        (figures.total, w["pocs"]),
        (len(figures.by_language), w["languages"]),
        (len(figures.top_tags), w["tags"]),
    ]
    cells = [
        [_p(str(v), st["stat"]) for v, _ in values],
        [_p(k, st["stat_label"]) for _, k in values],
    ]
    table = Table(cells, colWidths=[(WIDTH - 2 * MARGIN) / 3] * 3)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), SOFT),
                ("LINEAFTER", (0, 0), (1, -1), 2, colors.white),
                ("TOPPADDING", (0, 0), (-1, 0), 14),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 14),
            ]
        )
    )
    return table


def _bars(
    title: str,
    items: list[tuple[str, int]],
    *,
    horizontal: bool,
    width: float,
    upright_labels: bool = False,
) -> Drawing:
    regular, bold = _fonts()
    height = 190
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 14, title, fontName=bold, fontSize=11, fillColor=INK))
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    labels = [visual(clean(k, limit=16, single_line=True)) or "?" for k, _ in items] or ["—"]
    values = [v for _, v in items] or [0]
    if horizontal:  # largest on top
        labels, values = labels[::-1], values[::-1]
    chart.x, chart.y = (80, 10) if horizontal else (25, 30)
    chart.width, chart.height = width - chart.x - 10, height - 50
    chart.data = [values]
    chart.bars[0].fillColor = ACCENT
    chart.bars[0].strokeColor = None
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(max(values), 1) * 1.15
    chart.valueAxis.valueStep = max(1, round(max(max(values), 1) / 4))
    chart.valueAxis.labels.fontName = regular
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontName = regular
    chart.categoryAxis.labels.fontSize = 7
    if upright_labels:  # many narrow bars: their labels read bottom to top
        chart.categoryAxis.labels.angle = 90
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.fontSize = 6
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = regular
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 7
    drawing.add(chart)
    return drawing


def _pie(title: str, items: list[tuple[str, int]], width: float) -> Drawing:
    regular, bold = _fonts()
    height = 190
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 14, title, fontName=bold, fontSize=11, fillColor=INK))
    if not items:
        return drawing
    pie = Pie()
    pie.x, pie.y, pie.width, pie.height = 10, 15, 140, 140
    pie.data = [v for _, v in items]
    pie.labels = None
    pie.slices.strokeColor = colors.white
    for i in range(len(items)):
        pie.slices[i].fillColor = PALETTE[i % len(PALETTE)]
    drawing.add(pie)
    for i, (label, value) in enumerate(items[:8]):
        y = 140 - i * 16
        drawing.add(
            String(170, y, "■", fontName=regular, fontSize=10, fillColor=PALETTE[i % len(PALETTE)])
        )
        text = visual(f"{clean(label, limit=22, single_line=True)}  {value}")
        drawing.add(String(184, y, text, fontName=regular, fontSize=8, fillColor=INK))
    return drawing


def _charts(figures: Figures, language: str, w: dict[str, str]) -> Table:
    half = (WIDTH - 2 * MARGIN) / 2 - 6
    span = figures.months_span_years
    months = [(month_label(m, language, with_year=span), n) for m, n in figures.by_month]
    by_language = _bars(w["by_language"], figures.by_language[:8], horizontal=True, width=half)
    by_status = _pie(w["by_status"], figures.by_status, half)
    top_tags = _bars(w["top_tags"], figures.top_tags[:8], horizontal=True, width=half)
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 12),
    ]
    if span:  # up to 37 months over several years: the whole width, on a row of its own
        by_month = _bars(
            w["by_month"], months, horizontal=False, width=2 * half, upright_labels=True
        )
        grid: list[list[Any]] = [[by_month, ""], [by_language, by_status], [top_tags, ""]]
        style.append(("SPAN", (0, 0), (1, 0)))
    else:
        by_month = _bars(w["by_month"], months, horizontal=False, width=half)
        grid = [[by_language, by_month], [by_status, top_tags]]
    table = Table(grid, colWidths=[half + 6, half + 6])
    table.setStyle(TableStyle(style))
    return table


def _poc_table(
    pocs: list[dict[str, Any]], language: str, w: dict[str, str], st: dict[str, ParagraphStyle]
) -> Table:
    head = [_p(w[k], st["head"]) for k in ("name", "language", "tags", "dates", "links")]
    rows: list[list[Any]] = [head]
    for poc in pocs:
        name = clean(poc.get("name"), limit=100, single_line=True) or "—"
        excerpt = clean(poc.get("description"), limit=280, single_line=True)
        cell = [_p(name, ParagraphStyle("n", st["cell"], fontName=_fonts()[1]))]
        if excerpt:
            cell.append(_p(excerpt, st["small"]))
        tags = ", ".join(clean(t, limit=30, single_line=True) for t in (poc.get("tags") or [])[:12])
        frameworks = ", ".join(
            clean(f, limit=30, single_line=True) for f in (poc.get("frameworks") or [])[:6]
        )
        lang = clean(poc.get("language"), limit=30, single_line=True) or w["none"]
        dates = f"{w['created']}: {format_date(poc.get('created_at'), language)}"
        if poc.get("started_on") or poc.get("finished_on"):
            dates += (
                f"<br/>{format_date(poc.get('started_on'), language)} → "
                f"{format_date(poc.get('finished_on'), language)}"
            )
        url = clean(poc.get("repository_url"), limit=300, single_line=True)
        link = (
            (
                f'<link href="{escape(url, {chr(34): "&quot;"})}" color="#4c5bd4">'
                f"{escape(url.split('://', 1)[-1][:60])}</link>"
            )
            if url.startswith(("http://", "https://"))
            else escape(url[:60])
        )
        status = clean(status_label(poc.get("status"), language), limit=20, single_line=True)
        rows.append(
            [
                cell,
                [_p(lang, st["cell"]), _p(frameworks, st["small"])]
                if frameworks
                else _p(lang, st["cell"]),
                _p(tags or w["none"], st["cell"]),
                [Paragraph(dates, st["cell"]), _p(status, st["small"])]
                if status
                else Paragraph(dates, st["cell"]),
                Paragraph(link or w["none"], st["cell"]),
            ]
        )
    usable = WIDTH - 2 * MARGIN
    table = Table(
        rows, colWidths=[usable * f for f in (0.34, 0.13, 0.18, 0.17, 0.18)], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), INK),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, SOFT]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d9dcec")),
            ]
        )
    )
    return table


def render_report(
    pocs: list[dict[str, Any]],
    out: Path,
    *,
    title: str,
    period: tuple[date, date],
    language: str = "en",
    author: str = "",
    progress: Progress | None = None,
) -> Path:
    """Write the PDF report of ``pocs`` to ``out``; return ``out``."""
    report = progress or (lambda _pct: None)
    w, st = words(language), _styles()
    figures = summarize(pocs, unknown=w["unknown"], language=language, period=period)
    report(10)
    safe_title = clean(title, limit=120, single_line=True) or w["report_title"]
    period_text = format_period(period[0], period[1], language)
    story: list[Any] = [
        Spacer(1, 60 * mm),
        _p(safe_title, st["cover"]),
        Spacer(1, 6 * mm),
        _p(f"{w['period']}: {period_text}", st["subtitle"]),
        _p(f"{w['generated']}: {format_date(date.today(), language)}", st["subtitle"]),
        Spacer(1, 16 * mm),
        _stat_cards(figures, w, st),
    ]
    if not pocs:
        story += [
            Spacer(1, 20 * mm),
            _p(w["empty_title"], ParagraphStyle("e", st["h1"], alignment=TA_CENTER)),
            _p(w["empty_body"], st["empty"]),
        ]
    else:
        story += [
            PageBreak(),
            _p(w["summary"], st["h1"]),
            _charts(figures, language, w),
            PageBreak(),
            _p(f"{w['all_pocs']} ({len(pocs)})", st["h1"]),
            _poc_table(pocs, language, w, st),
        ]
    report(40)

    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFillColor(ACCENT)
        canvas.rect(0, HEIGHT - 6 * mm, WIDTH, 6 * mm, stroke=0, fill=1)
        canvas.setFont(_fonts()[0], 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, 10 * mm, visual(f"Mr Bill · {safe_title}"[:110]))
        canvas.drawRightString(WIDTH - MARGIN, 10 * mm, f"{w['page']} {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(out),
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=safe_title,
        author=clean(author, limit=100) or "Mr Bill",
        creator="Mr Bill",
        lang="pt-BR" if language == "pt-BR" else "en",
    )
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    report(100)
    return out
