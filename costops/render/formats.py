"""Machine formats for any result: JSON envelope, CSV, Markdown."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costops.render.columns import Column, display
from costops.render.safe import csv_text, json_text, markdown_cell


@dataclass
class ParquetRows:
    """Rows to be written as a Parquet file (`--format parquet --output FILE`)."""

    rows: list[dict[str, Any]]

    def write(self, path: Path) -> None:
        import polars as pl

        pl.DataFrame(self.rows, infer_schema_length=None).write_parquet(path)


def to_json(envelope: dict[str, Any]) -> str:
    return json_text(json.dumps(_clean(envelope), indent=2, ensure_ascii=False)) + "\n"


def to_csv(rows: list[dict[str, Any]], keys: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in keys})
    return out.getvalue()


def to_markdown(
    rows: list[dict[str, Any]], columns: list[Column], totals: dict[str, Any] | None = None
) -> str:
    lines = [
        "| " + " | ".join(markdown_cell(c.header) for c in columns) + " |",
        "| " + " | ".join("---:" if c.kind != "text" else "---" for c in columns) + " |",
    ]
    for row in [*rows, *([totals] if totals else [])]:
        cells = [markdown_cell(display(row.get(c.key), c.kind)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _csv_value(value: Any) -> Any:
    """Numbers stay numbers (a negative one too); text is guarded (costops.render.safe)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    return csv_text(str(value))


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, tuples lists."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
