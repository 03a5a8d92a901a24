"""Bulk import and export formats: CSV (one POC per line) and JSON (an array of POCs).

CSV columns are the fields of ``PocIn``; ``tags`` and ``frameworks`` hold ``;``-separated
lists. Export writes the same columns (plus ids and dates), so an export imports back.
Cells that a spreadsheet would run as a formula are prefixed with ``'`` on export.
An export is written a page of POCs at a time (:class:`ExportWriter`), never whole in memory.
"""

from __future__ import annotations

import csv
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Literal

from platform_api.kernel import Problem

Format = Literal["csv", "json"]
IMPORT_COLUMNS = (
    "name",
    "description",
    "language",
    "frameworks",
    "tags",
    "repository_url",
    "status",
    "visibility",
    "started_on",
    "finished_on",
)
EXPORT_COLUMNS = ("poc_id", *IMPORT_COLUMNS, "created_at", "updated_at")
LIST_COLUMNS = ("frameworks", "tags")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(400, "The file is not UTF-8 text") from None


def parse_import(body: bytes, fmt: Format) -> list[tuple[int, Any]]:
    """The rows of an import file, unvalidated (each becomes a ``PocIn`` or a row error), with
    the number a reader sees: the item's place in a JSON array; in a CSV file, the record's
    place after the header as a spreadsheet counts it (blank lines count, and are left
    out)."""
    text = _text(body)
    if fmt == "json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to read
            raise Problem(400, "The file is not valid JSON") from None
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = data["items"]
        if not isinstance(data, list):
            raise Problem(400, "A JSON import is an array of POC objects")
        return [(number, _drop_export_only(row)) for number, row in enumerate(data, start=1)]
    try:
        records = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(records, [])
        _check_header(header)
        return [
            (number, _csv_row(dict(zip(header, cells, strict=False)), cells[len(header) :]))
            for number, cells in enumerate(records, start=1)
            if cells
        ]
    except csv.Error as exc:
        raise Problem(
            400, "The CSV file is malformed: {reason}", params={"reason": str(exc)}
        ) from None


def _check_header(header: list[str]) -> None:
    unknown = [c for c in header if c not in EXPORT_COLUMNS]
    columns = {"columns": ", ".join(IMPORT_COLUMNS), "unknown": ", ".join(unknown[:5])}
    if unknown:
        raise Problem(
            400,
            "The CSV header must name the columns: {columns} (unknown: {unknown})",
            params=columns,
        )
    if "name" not in header:
        raise Problem(400, "The CSV header must name the columns: {columns}", params=columns)
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise Problem(
            400,
            "The CSV header names a column more than once: {columns}",
            params={"columns": ", ".join(twice)},
        )


def _drop_export_only(row: Any) -> Any:
    if isinstance(row, dict):
        return {
            k: v
            for k, v in row.items()
            if k not in ("poc_id", "created_at", "updated_at", "owner_id", "version")
        }
    return row


def _csv_row(row: dict[str, str], extra: list[str]) -> dict[str, Any]:
    if extra:  # more cells than header columns
        return {"__extra_cells__": extra}
    data: dict[str, Any] = {}
    for key, value in row.items():
        if key not in IMPORT_COLUMNS:
            continue
        value = (
            value.removeprefix("'")
            if value.startswith("'") and value[1:2] in _FORMULA_START
            else value
        )
        if key in LIST_COLUMNS:
            data[key] = [part for part in value.split(";") if part.strip()]
        elif value.strip() or key == "name":
            data[key] = value
    return data


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:  # most cells: no failed attribute lookups for them
        text = value
    elif isinstance(value, list):
        text = ";".join(value)
    else:
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class ExportWriter(ABC):
    """An export file written a chunk of POCs at a time: :meth:`head`, :meth:`rows` for each
    chunk, then :meth:`tail`. Joined, the pieces are the file a single call would have made
    of all the rows, whatever the chunks; memory holds one chunk at a time."""

    media_type: str

    def head(self) -> str:
        return ""

    @abstractmethod
    def rows(self, rows: Iterable[dict[str, Any]]) -> str:
        """The text of the next POCs (``snapshot`` dicts), in order."""

    def tail(self) -> str:
        return ""


class CsvExport(ExportWriter):
    """A header line, then one line per POC (``\\r\\n`` line ends, formula cells quoted)."""

    media_type = "text/csv; charset=utf-8"

    def head(self) -> str:
        return _csv_lines([EXPORT_COLUMNS])

    def rows(self, rows: Iterable[dict[str, Any]]) -> str:
        return _csv_lines([_cell(row.get(column)) for column in EXPORT_COLUMNS] for row in rows)


def _csv_lines(lines: Iterable[Iterable[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(lines)
    return out.getvalue()


# An object in the array is at depth 1 ("{" after one space), its fields at depth 2, the
# items of a list field at depth 3: as json.dumps(..., indent=1) lays out the whole array.
_JSON_KEYS = {column: "  " + encode_basestring(column) + ": " for column in EXPORT_COLUMNS}


def _json_value(value: Any) -> str:
    """``value`` as json.dumps(..., ensure_ascii=False, indent=1) writes it at depth 2."""
    if value is None:
        return "null"
    if type(value) is str:
        return encode_basestring(value)  # the function json.dumps itself uses for strings
    if type(value) is list and all(type(item) is str for item in value):
        return "[\n   " + ",\n   ".join(map(encode_basestring, value)) + "\n  ]" if value else "[]"
    text = json.dumps(value, ensure_ascii=False, default=_isoformat, indent=1)
    return text.replace("\n", "\n  ")  # JSON strings hold no raw line breaks


def _isoformat(value: Any) -> Any:
    return value.isoformat()


class JsonExport(ExportWriter):
    """A JSON array of POC objects, indented by one space (what ``json.dumps(..., indent=1)``
    makes of the whole list)."""

    media_type = "application/json"

    def __init__(self) -> None:
        self._written = 0

    def head(self) -> str:
        return "["

    def rows(self, rows: Iterable[dict[str, Any]]) -> str:
        parts = []
        for row in rows:
            fields = ",\n".join(
                _JSON_KEYS[column] + _json_value(row.get(column)) for column in EXPORT_COLUMNS
            )
            parts.append(("\n {\n" if self._written == 0 else ",\n {\n") + fields + "\n }")
            self._written += 1
        return "".join(parts)

    def tail(self) -> str:
        return "\n]" if self._written else "]"


def export_writer(fmt: Format) -> ExportWriter:
    """A new writer of one export file in ``fmt``."""
    return CsvExport() if fmt == "csv" else JsonExport()
