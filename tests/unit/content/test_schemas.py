"""Content request bodies: what they accept, and how stored ones read back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from platform_api.content.schemas import ContentRequestIn, PocFilter


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
