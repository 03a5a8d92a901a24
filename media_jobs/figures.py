"""The year's figures, shared by the report's charts and the video's closing card."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from platform_api.content.pocs import work_day

from .i18n import status_label, words


@dataclass(frozen=True)
class Figures:
    total: int
    by_language: list[tuple[str, int]]  # most common first
    # (first day of the month, count), oldest first: the 12 months of a year, or every month
    # of a period over more than one calendar year (see :func:`months_of`).
    by_month: list[tuple[date, int]]
    by_status: list[tuple[str, int]]  # by the status's label in the document's language
    top_tags: list[tuple[str, int]]

    @property
    def months_span_years(self) -> bool:
        """Whether the months belong to more than one year (labels must say which)."""
        return bool(self.by_month) and self.by_month[0][0].year != self.by_month[-1][0].year


def months_of(period: tuple[date, date] | None, pocs: list[dict[str, Any]]) -> list[date]:
    """The months to count in: January to December of the period's year (or of the POCs'
    first year), or, when the period spans several calendar years, each of its months."""
    if period is not None and period[0].year != period[1].year:
        first, last = period[0].replace(day=1), period[1].replace(day=1)
        months = []
        while first <= last:
            months.append(first)
            first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return months
    if period is not None:
        year = period[0].year
    else:
        days = [d for d in map(work_day, pocs) if d is not None]
        year = min(days).year if days else date.today().year
    return [date(year, month, 1) for month in range(1, 13)]


def summarize(
    pocs: list[dict[str, Any]],
    *,
    unknown: str = "?",
    top: int = 10,
    language: str = "en",
    period: tuple[date, date] | None = None,
) -> Figures:
    """Count POCs per language, month, status and tag; statuses are named in ``language``.

    A POC counts in the month its work started (:func:`work_day`), or the period's first
    month when it started before the period."""
    languages = Counter((p.get("language") or unknown) for p in pocs)
    no_status = words(language)["no_status"]
    statuses = Counter((status_label(p.get("status"), language) or no_status) for p in pocs)
    tags = Counter(tag for p in pocs for tag in set(p.get("tags") or []))
    months = dict.fromkeys(months_of(period, pocs), 0)
    first, last = next(iter(months)), next(reversed(months))
    multi_year = first.year != last.year
    for poc in pocs:
        day = work_day(poc)
        if day is None:
            continue
        if period is not None:
            day = min(max(day, period[0]), period[1])
        key = day.replace(day=1) if multi_year else first.replace(month=day.month)
        if key in months:
            months[key] += 1
    return Figures(
        total=len(pocs),
        by_language=languages.most_common(top),
        by_month=list(months.items()),
        by_status=statuses.most_common(),
        top_tags=tags.most_common(top),
    )
