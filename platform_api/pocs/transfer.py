"""Bulk import and export formats: CSV (one POC per line) and JSON (an array of POCs).

CSV columns are the fields of ``PocIn``; ``tags`` and ``frameworks`` hold ``;``-separated
lists. Export writes the same columns (plus ids and dates), so an export imports back.
Cells that a spreadsheet would run as a formula are prefixed with ``'`` on export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
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


def parse_import(body: bytes, fmt: Format) -> list[Any]:
    """The rows of an import file, unvalidated (each becomes a ``PocIn`` or a row error)."""
    text = _text(body)
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError:
            raise Problem(400, "The file is not valid JSON") from None
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = data["items"]
        if not isinstance(data, list):
            raise Problem(400, "A JSON import is an array of POC objects")
        return [_drop_export_only(row) for row in data]
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in EXPORT_COLUMNS]
        if "name" not in header or unknown:
            raise Problem(
                400,
                "The CSV header must name the columns: "
                + ", ".join(IMPORT_COLUMNS)
                + (f" (unknown: {', '.join(unknown[:5])})" if unknown else ""),
            )
        return [_csv_row(row) for row in reader]
    except csv.Error as exc:
        raise Problem(400, f"The CSV file is malformed: {exc}") from None


def _drop_export_only(row: Any) -> Any:
    if isinstance(row, dict):
        return {
            k: v
            for k, v in row.items()
            if k not in ("poc_id", "created_at", "updated_at", "owner_id", "version")
        }
    return row


def _csv_row(row: dict[str | None, Any]) -> dict[str, Any]:
    if None in row:  # more cells than header columns
        return {"__extra_cells__": row[None]}
    data: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or key not in IMPORT_COLUMNS or value is None:
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
    if isinstance(value, list):
        value = ";".join(value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in EXPORT_COLUMNS])
    return out.getvalue()


def render_json(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps(
        [{column: row.get(column) for column in EXPORT_COLUMNS} for row in rows],
        ensure_ascii=False,
        default=lambda v: v.isoformat(),
        indent=1,
    )
