"""Content request bodies (what they accept, how stored ones read back) and file names."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from platform_api.content.schemas import ContentRequestIn, PocFilter, failure
from platform_api.content.service import download_filename


@pytest.mark.parametrize("status", ["idea", "in_progress", "done", "abandoned"])
def test_filter_takes_the_poc_statuses(status: str) -> None:
    body = ContentRequestIn.model_validate(
        {"type": "report", "year": 2025, "filter": {"status": status}}
    )
    assert body.filter.status == status


@pytest.mark.parametrize("status", ["Done", "finished", " done", ""])
def test_filter_refuses_any_other_status(status: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ContentRequestIn.model_validate(
            {"type": "report", "year": 2025, "filter": {"status": status}}
        )
    assert caught.value.errors()[0]["type"] == "literal_error"


def test_a_filter_stored_before_statuses_were_checked_still_reads_back() -> None:
    stored = PocFilter.stored({"tags": ["ml"], "language": None, "status": "Done"})
    assert stored.model_dump(mode="json") == {"tags": ["ml"], "language": None, "status": "Done"}
    assert PocFilter.stored({"status": "done"}).status == "done"


@pytest.mark.parametrize(
    ("start", "end", "name"),
    [
        (date(2025, 1, 1), date(2025, 12, 31), "mrbill-report-2025.pdf"),
        (date(2024, 1, 1), date(2026, 12, 31), "mrbill-report-2024-2026.pdf"),
        (date(2024, 1, 1), date(2025, 6, 30), "mrbill-report-2024-01-01_2025-06-30.pdf"),
        (date(2025, 3, 1), date(2025, 3, 31), "mrbill-report-2025-03-01_2025-03-31.pdf"),
    ],
)
def test_download_filename_names_the_whole_period(start: date, end: date, name: str) -> None:
    row = {"type": "report", "from_date": start, "to_date": end}
    assert download_filename(row) == name


@pytest.mark.parametrize(
    ("stored", "locale", "expected"),
    [
        (None, "pt-BR", (None, None)),
        (
            "The file could not be generated (OSError)",  # as stored by earlier workers
            "pt-BR",
            ("generation_failed", "Não foi possível gerar o arquivo; tente de novo mais tarde"),
        ),
        (
            "Generation failed repeatedly; please try again later",
            "en",
            ("failed_repeatedly", "Generation failed repeatedly; please try again later"),
        ),
        (
            "Generation failed repeatedly; please try again later",
            "pt-BR",
            ("failed_repeatedly", "A geração falhou várias vezes; tente de novo mais tarde"),
        ),
        ("Something else", "pt-BR", (None, "Something else")),
    ],
)
def test_failure_reasons_read_in_the_readers_language(
    stored: str | None, locale: str, expected: tuple[str | None, str | None]
) -> None:
    assert failure(stored, locale) == expected
