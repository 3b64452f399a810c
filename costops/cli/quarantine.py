"""`costops quarantine`: the lines ingest could not use: file, line number, reason, size, hash
and structure (the text only if it was kept with `ingest --keep-text`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from costops.analysis.session import fetch_dicts
from costops.cli.common import (
    DbOption,
    FormatOption,
    OutputOption,
    WaitOption,
    check_format,
    db_path,
    emit,
)
from costops.render.columns import Column
from costops.render.formats import ParquetRows, to_csv, to_json, to_markdown
from costops.render.table import rich_table
from costops.store.db import open_db

QUARANTINE_SQL = """
SELECT file, line_no, reason, byte_length, sha256, structure, raw FROM quarantine
WHERE ? IS NULL OR file = ?
ORDER BY run_id, line_no
LIMIT ?
"""
COLUMNS = [
    Column("file", "file"),
    Column("line_no", "line", "int"),
    Column("reason", "reason"),
    Column("byte_length", "bytes", "int"),
    Column("shown", "kept text, else structure (first 80 characters)"),
]


CSV_COLUMNS = ["file", "line_no", "reason", "byte_length", "sha256", "structure", "raw"]


def quarantine(
    file: Annotated[str | None, typer.Option("--file", help="Only lines from this file.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many lines.")] = 100,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
) -> None:
    """List quarantined lines: file, line number, reason, size and structure (or kept text)."""
    check_format(fmt)
    with open_db(db_path(db), create=False, wait=wait, read_only=True) as con:
        rows = fetch_dicts(con, QUARANTINE_SQL, [file, file, max(limit, 0)])
    emit(_render(rows, fmt), output)


def _render(rows: list[dict[str, Any]], fmt: str) -> Any:
    if fmt == "json":
        return to_json({"rows": rows})
    if fmt == "csv":
        return to_csv(rows, CSV_COLUMNS)
    if fmt == "parquet":
        return ParquetRows(rows)
    shown = [{**r, "shown": (r["raw"] or r["structure"] or "(no structure)")[:80]} for r in rows]
    if fmt == "markdown":
        return to_markdown(shown, COLUMNS)
    return rich_table(f"{len(rows)} quarantined lines", COLUMNS, shown)
