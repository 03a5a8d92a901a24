"""The figures shared by the report's charts and the video's closing card."""

from __future__ import annotations

from media_jobs.figures import summarize


def test_months_count_when_the_work_started_not_when_it_was_registered() -> None:
    pocs = [
        {"created_at": "2026-01-10T09:00:00+00:00", "started_on": "2025-03-02"},
        {"created_at": "2025-05-01T09:00:00+00:00", "finished_on": "2025-07-30"},
        {"created_at": "2025-11-11T09:00:00+00:00"},
    ]
    months = summarize(pocs).by_month
    assert [m + 1 for m, n in enumerate(months) if n] == [3, 7, 11]
