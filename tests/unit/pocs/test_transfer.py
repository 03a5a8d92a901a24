"""Export writers: a file written a chunk at a time is, byte for byte, the file the export
made in one piece before it was streamed (the one-shot renderers below), wherever the chunks
are cut."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_api.kernel import Problem
from platform_api.pocs.transfer import EXPORT_COLUMNS, _cell, export_writer, parse_import

# --- the one-shot renderers the export used before it was streamed (the reference) ---------


def one_shot_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in EXPORT_COLUMNS])
    return out.getvalue()


def one_shot_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(
        [{column: row.get(column) for column in EXPORT_COLUMNS} for row in rows],
        ensure_ascii=False,
        default=lambda v: v.isoformat(),
        indent=1,
    )


def one_shot_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


ONE_SHOT = {"csv": one_shot_csv, "json": one_shot_json}


def chunked(fmt: Any, rows: list[dict[str, Any]], cuts: list[int]) -> str:
    writer = export_writer(fmt)
    pieces, start = [writer.head()], 0
    for end in [*sorted(cuts), len(rows)]:
        pieces.append(writer.rows(rows[start:end]))
        start = max(start, end)
    return "".join([*pieces, writer.tail()])


# --- what POCs hold, and the odd values a writer must still lay out as json.dumps does ------

text = st.text(st.characters(codec="utf-8"), max_size=12)
tricky = st.sampled_from(
    ["=1+1", "-2", "+x", "@a", "\tt", "\rr", 'a "q", b', "l1\nl2", "\u2028é😀"]
)
strings = text | tricky
labels = st.lists(strings, max_size=3)
iso = st.datetimes(timezones=st.just(UTC)) | st.dates()
snapshot_values = st.none() | strings | labels
odd_values = (
    st.integers()
    | st.booleans()
    | st.floats(allow_nan=False)
    | iso
    | st.tuples(strings, st.none())
    | st.lists(st.none() | st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.none() | strings, max_size=2)
)


def rows_of(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries({column: values for column in EXPORT_COLUMNS})
    return st.lists(row, max_size=7)


cuts = st.lists(st.integers(min_value=0, max_value=7), max_size=4)


@given(rows=rows_of(snapshot_values), cuts=cuts)
def test_chunks_of_snapshots_make_the_one_shot_file(
    rows: list[dict[str, Any]], cuts: list[int]
) -> None:
    for fmt, one_shot in ONE_SHOT.items():
        assert chunked(fmt, rows, cuts) == one_shot(rows), fmt


def outcome(make: Callable[..., str], *args: Any) -> tuple[str, Any]:
    """What ``make`` returns, or the type of what it raises (for a value neither lays out)."""
    try:
        return "made", make(*args)
    except Exception as exc:  # compared with the reference's, not swallowed
        return "raised", type(exc)


@given(rows=rows_of(snapshot_values | odd_values), cuts=cuts)
def test_chunks_of_any_values_make_the_one_shot_file(
    rows: list[dict[str, Any]], cuts: list[int]
) -> None:
    for fmt, one_shot in ONE_SHOT.items():
        assert outcome(chunked, fmt, rows, cuts) == outcome(one_shot, rows), fmt


@given(value=snapshot_values | odd_values)
def test_a_cell_is_what_it_was(value: Any) -> None:
    assert outcome(_cell, value) == outcome(one_shot_cell, value)


def test_an_empty_export() -> None:
    assert chunked("json", [], [0, 0]) == "[]"
    assert chunked("csv", [], [0]) == ",".join(EXPORT_COLUMNS) + "\r\n"


def test_a_chunked_export_imports_back() -> None:
    row = {
        "poc_id": str(uuid.uuid4()),
        "name": "=cmd",
        "description": 'two\nlines, "quoted"',
        "language": "Go",
        "frameworks": ["Gin", "gRPC"],
        "tags": [],
        "repository_url": None,
        "status": "done",
        "visibility": "tenant",
        "started_on": date(2024, 3, 1).isoformat(),
        "finished_on": None,
        "created_at": datetime(2024, 3, 1, 12, tzinfo=UTC).isoformat(),
        "updated_at": datetime(2024, 3, 2, 12, 0, 0, 5, tzinfo=UTC).isoformat(),
    }
    rows = [row, {**row, "name": "Second"}]
    for fmt in ("csv", "json"):
        numbered = parse_import(chunked(fmt, rows, [1]).encode(), fmt)
        assert [number for number, _ in numbered] == [1, 2], fmt
        parsed = [row for _, row in numbered]
        assert [p["name"] for p in parsed] == ["=cmd", "Second"], fmt
        assert parsed[0]["frameworks"] == ["Gin", "gRPC"], fmt
        assert parsed[0]["description"] == 'two\nlines, "quoted"', fmt


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    """Blank lines count (and are left out); a cell over several lines is one row."""
    body = b'name,description\nfirst,x\n\nsecond,"two\nlines"\n\n\nthird,y\n'
    rows = parse_import(body, "csv")
    assert [(number, row["name"]) for number, row in rows] == [
        (1, "first"),
        (3, "second"),
        (6, "third"),
    ]


def test_a_csv_column_named_twice_is_refused() -> None:
    with pytest.raises(Problem) as refused:
        parse_import(b"name,language,name\na,Go,b\n", "csv")
    assert (refused.value.status, refused.value.params) == (400, {"columns": "name"})
