"""The figures shared by the report's charts and the video's closing card."""

from __future__ import annotations

from datetime import date

from media_jobs.figures import summarize


def test_months_count_when_the_work_started_not_when_it_was_registered() -> None:
    pocs = [
        {"created_at": "2026-01-10T09:00:00+00:00", "started_on": "2025-03-02"},
        {"created_at": "2025-05-01T09:00:00+00:00", "finished_on": "2025-07-30"},
        {"created_at": "2025-11-11T09:00:00+00:00"},
    ]
    months = summarize(pocs).by_month
    assert [m.month for m, n in months if n] == [3, 7, 11]


def test_a_period_over_several_years_counts_each_month_of_each_year() -> None:
    pocs = [
        {"started_on": "2024-03-02"},
        {"started_on": "2025-03-20"},
        {"started_on": "2026-03-01"},
        {"started_on": "2023-11-01", "finished_on": "2024-02-01"},  # began before the period
    ]
    figures = summarize(pocs, period=(date(2024, 1, 1), date(2026, 12, 31)))
    assert figures.months_span_years
    assert len(figures.by_month) == 36
    counted = {month.isoformat(): n for month, n in figures.by_month if n}
    assert counted == {"2024-01-01": 1, "2024-03-01": 1, "2025-03-01": 1, "2026-03-01": 1}


def test_one_year_keeps_its_twelve_months() -> None:
    figures = summarize(
        [{"started_on": "2025-03-02"}], period=(date(2025, 1, 1), date(2025, 12, 31))
    )
    assert not figures.months_span_years
    assert [m.month for m, _ in figures.by_month] == list(range(1, 13))
    assert [n for _, n in figures.by_month] == [0, 0, 1] + [0] * 9
