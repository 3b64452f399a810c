"""`costops quarantine`: the lines ingest could not use: file, line number, reason, size, hash
and structure (the text only if it was kept with `ingest --keep-text`)."""

from __future__ import annotations

from typing import Annotated

import typer

from costops.cli.common import (
    DbOption,
    FormatOption,
    OutputOption,
    WaitOption,
    db_path,
    emit,
)
from costops.render.columns import Column
from costops.render.table import stderr
from costops.render.words import count

QUARANTINE_SQL = """
SELECT file, line_no, reason, byte_length, sha256, structure, raw FROM quarantine
WHERE ? IS NULL OR file = ?
ORDER BY run_id, line_no
LIMIT ?
"""
COUNT_SQL = "SELECT count(*) FROM quarantine WHERE ? IS NULL OR file = ?"
CLEAR_SQL = "DELETE FROM quarantine WHERE ? IS NULL OR file = ?"
COLUMNS = [
    Column("file", "file"),
    Column("line_no", "line", "int"),
    Column("reason", "reason"),
    Column("byte_length", "bytes", "int"),
    Column(
        "raw",
        "kept text, else structure (first 80 characters)",
        shown=lambda r: (r.get("raw") or r.get("structure") or "(no structure)")[:80],
    ),
]


CSV_COLUMNS = ["file", "line_no", "reason", "byte_length", "sha256", "structure", "raw"]


def quarantine(
    file: Annotated[str | None, typer.Option("--file", help="Only lines from this file.")] = None,
    top: Annotated[
        int, typer.Option("--top", "-n", "--limit", min=0, help="Show at most N lines.")
    ] = 100,
    clear: Annotated[
        bool,
        typer.Option(
            "--clear",
            help="Forget the quarantined lines (of --file, else all), once "
            "the file is fixed and ingested again.",
        ),
    ] = False,
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
) -> None:
    """List quarantined lines: file, line number, reason, size and structure (or kept text)."""
    from costops.analysis.session import fetch_dicts
    from costops.render.result import Result, Section
    from costops.store.db import open_db

    if clear:
        with open_db(db_path(db), create=False, wait=wait) as con:
            (cleared,) = con.execute(CLEAR_SQL, [file, file]).fetchall()[0]
        scope = f" of {file}" if file else ""
        stderr.print(f"forgot {count(cleared, 'quarantined line')}{scope}")
        return
    with open_db(db_path(db), create=False, wait=wait, read_only=True) as con:
        rows = fetch_dicts(con, QUARANTINE_SQL, [file, file, top])
        (total,) = con.execute(COUNT_SQL, [file, file]).fetchall()[0]
    title = count(total, "quarantined line")
    if len(rows) < total:
        title += f" (the first {len(rows):,}; --top N for more)"
    section = Section("rows", title, COLUMNS, rows, {"lines": total}, show_totals=False)
    emit(Result({}, [section], csv_keys=CSV_COLUMNS), fmt, output)
