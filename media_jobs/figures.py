"""The year's figures, shared by the report's charts and the video's closing card."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from platform_api.content.pocs import work_day

from .i18n import status_label, words


@dataclass(frozen=True)
class Figures:
    total: int
    by_language: list[tuple[str, int]]  # most common first
    by_month: list[int]  # 12 counts, January first (months the POCs' work started)
    by_status: list[tuple[str, int]]  # by the status's label in the document's language
    top_tags: list[tuple[str, int]]


def _month(poc: dict[str, Any]) -> int | None:
    day = work_day(poc)
    return day.month if day else None


def summarize(
    pocs: list[dict[str, Any]], *, unknown: str = "?", top: int = 10, language: str = "en"
) -> Figures:
    """Count POCs per language, month, status and tag; statuses are named in ``language``."""
    languages = Counter((p.get("language") or unknown) for p in pocs)
    no_status = words(language)["no_status"]
    statuses = Counter((status_label(p.get("status"), language) or no_status) for p in pocs)
    tags = Counter(tag for p in pocs for tag in set(p.get("tags") or []))
    months = [0] * 12
    for poc in pocs:
        month = _month(poc)
        if month is not None:
            months[month - 1] += 1
    return Figures(
        total=len(pocs),
        by_language=languages.most_common(top),
        by_month=months,
        by_status=statuses.most_common(),
        top_tags=tags.most_common(top),
    )
