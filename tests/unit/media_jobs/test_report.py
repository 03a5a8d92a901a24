"""The PDF report, checked as a reader would: page count, text, and pictures of the pages."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from datetime import date

import pytest

from media_jobs.report import render_report
from tests.harness.media import artifact_dir, pdf_pages, pdf_text, pdf_to_pngs

from .samples import nasty_pocs, sample_pocs

YEAR = (date(2025, 1, 1), date(2025, 12, 31))


def test_report_of_50_pocs_in_portuguese() -> None:
    folder = artifact_dir("report-pt-BR")
    pocs = sample_pocs(50) + nasty_pocs()
    started = time.perf_counter()
    pdf = render_report(
        pocs, folder / "report.pdf", title="Relatório de POCs 2025", period=YEAR, language="pt-BR"
    )
    elapsed = time.perf_counter() - started
    text = pdf_text(pdf)
    assert 5 <= pdf_pages(pdf) <= 12
    for expected in (
        "Relatório de POCs 2025",
        "01/01/2025",
        "POCs por linguagem",
        "POCs por mês",
        "Tags mais usadas",
        "Todas as POCs (54)",
        "POC 1:",
        "Emoji party",
        "ação",
        "Markup",
        "poc-50",
    ):
        assert expected in text, expected
    assert "<b>" not in text.replace("<b>Markup</b>", "")  # markup is shown, never interpreted
    pngs = pdf_to_pngs(pdf, folder)
    assert len(pngs) == pdf_pages(pdf)
    (folder / "metrics.json").write_text(
        json.dumps({"pocs": len(pocs), "seconds": round(elapsed, 3), "bytes": pdf.stat().st_size})
    )
    assert elapsed < 10


def test_empty_report_in_english_is_friendly() -> None:
    folder = artifact_dir("report-empty-en")
    pdf = render_report([], folder / "report.pdf", title="POC report 2031", period=YEAR)
    text = pdf_text(pdf)
    assert pdf_pages(pdf) == 1
    assert "No POCs in this period yet" in text
    assert "Jan 1, 2025" in text
    pdf_to_pngs(pdf, folder)


def test_progress_is_reported_in_order() -> None:
    folder = artifact_dir("report-progress")
    seen: list[int] = []
    render_report(sample_pocs(3), folder / "r.pdf", title="t", period=YEAR, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == 100


# Hebrew words in reading order: "one two three ... ten".
HEBREW_WORDS = ["אחת", "שתיים", "שלוש", "ארבע", "חמש", "שש", "שבע", "שמונה", "תשע", "עשר"]


def _reading_text(pdf_text: str) -> str:
    """pdftotext's output with its embedding marks dropped and Arabic joined forms unfolded."""
    marks = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u200e\u200f"))
    return unicodedata.normalize("NFKC", pdf_text.translate(marks))


def test_right_to_left_text_reads_in_order() -> None:
    """Hebrew and Arabic names, tags, titles and wrapped descriptions come out in reading
    order: pdftotext puts the glyphs back into logical order only when they were drawn in
    visual order."""
    folder = artifact_dir("report-rtl")
    pocs = sample_pocs(4)
    pocs[0].update(name="שלום עולם מרשים", tags=["עברית"], language="עברית")
    pocs[3].update(name="שָׁלוֹם עוֹלָם", tags=[])  # vowel points are kept, on their letters
    pocs[1].update(name="مرحبا بالعالم", description="مشروع لاختبار النص", tags=["عربى"])
    # Long enough to wrap over several lines of its table cell.
    pocs[2].update(name="תיאור ארוך", description=" ".join(HEBREW_WORDS * 3))
    pdf = render_report(pocs, folder / "report.pdf", title="דוח השנה שלי", period=YEAR)
    text = _reading_text(pdf_text(pdf))
    for expected in (
        "שלום עולם מרשים",
        "مرحبا بالعالم",
        "مشروع لاختبار النص",
        "דוח השנה שלי",  # the cover, and the footer of every page
        "עברית",
        "שָׁלוֹם עוֹלָם",
    ):
        assert unicodedata.normalize("NFKC", expected) in text, expected
    for reversed_ in ("םולש", "ملاعلاب", "חוד", "תירבע"):
        assert reversed_ not in text, reversed_
    assert text.count("דוח השנה שלי") == 1 + pdf_pages(pdf)
    # Wrapping happens before reordering: every line of the description holds the next
    # words, so reading the lines top to bottom gives the words in their order.
    lines = [line for line in text.splitlines() if any(word in line for word in HEBREW_WORDS)]
    assert len(lines) >= 2, lines
    positions = [text.index(word) for word in HEBREW_WORDS]
    assert positions == sorted(positions)
    pdf_to_pngs(pdf, folder)


RAW_STATUS = re.compile(r"\b(idea|in_progress|done|abandoned)\b")


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("pt-BR", ["Ideia", "Em andamento", "Concluída", "Abandonada"]),
        ("en", ["Idea", "In progress", "Done", "Abandoned"]),
    ],
)
def test_statuses_are_named_in_the_documents_language(language: str, labels: list[str]) -> None:
    """The status pie and every row say "Em andamento", never the code ``in_progress``."""
    folder = artifact_dir(f"report-statuses-{language}")
    pocs = sample_pocs(4)
    for poc, status in zip(pocs, ("idea", "in_progress", "done", "abandoned"), strict=True):
        poc["status"] = status
    pdf = render_report(pocs, folder / "r.pdf", title="t", period=YEAR, language=language)
    text = pdf_text(pdf)
    for label in labels:
        # once in the pie's legend ("Label  1"), once in the POC's row
        assert len(re.findall(rf"{label}\b", text)) >= 2, label
    assert RAW_STATUS.search(text) is None, RAW_STATUS.search(text)


def test_months_of_several_years_are_told_apart() -> None:
    """Three years: 36 bars, labelled with their year, not three Marches added up."""
    folder = artifact_dir("report-three-years")
    pocs = sample_pocs(6, year=2024) + sample_pocs(6, year=2025) + sample_pocs(6, year=2026)
    period = (date(2024, 1, 1), date(2026, 12, 31))
    pdf = render_report(pocs, folder / "r.pdf", title="t", period=period, language="pt-BR")
    text = pdf_text(pdf)
    for label in ("jan/24", "dez/24", "jun/25", "dez/26"):
        assert label in text, label
    pdf_to_pngs(pdf, folder)
