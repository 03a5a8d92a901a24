from __future__ import annotations

import pytest

from platform_api.kernel import Problem, decode_cursor, encode_cursor


def test_cursor_round_trip() -> None:
    values = {"created_at": "2026-01-01T00:00:00+00:00", "id": "abc"}
    assert decode_cursor(encode_cursor(values), ("created_at", "id")) == values


def test_empty_cursor_is_first_page() -> None:
    assert decode_cursor(None, ("id",)) is None
    assert decode_cursor("", ("id",)) is None


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor({"other": 1}), "W10"])
def test_malformed_cursor_is_400(cursor: str) -> None:
    with pytest.raises(Problem) as caught:
        decode_cursor(cursor, ("id",))
    assert caught.value.status == 400
