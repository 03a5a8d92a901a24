"""The year's figures, shared by the report's charts and the video's closing card."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Figures:
    total: int
    by_language: list[tuple[str, int]]  # most common first
    by_month: list[int]  # 12 counts, January first (months of created_at)
    by_status: list[tuple[str, int]]
    top_tags: list[tuple[str, int]]


def _month(poc: dict[str, Any]) -> int | None:
    try:
        return date.fromisoformat(str(poc.get("created_at") or "")[:10]).month
    except ValueError:
        return None


def summarize(pocs: list[dict[str, Any]], *, unknown: str = "?", top: int = 10) -> Figures:
    """Count POCs per language, month, status and tag."""
    languages = Counter((p.get("language") or unknown) for p in pocs)
    statuses = Counter((p.get("status") or unknown) for p in pocs)
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
