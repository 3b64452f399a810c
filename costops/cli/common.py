"""Options shared by every command, and writing results to stdout or --output."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from costops.errors import UsageError
from costops.render.formats import ParquetRows
from costops.store.db import resolve_db_path

OUTPUT_FORMATS = ("table", "json", "csv", "markdown", "parquet")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="DuckDB file (default ./costops.duckdb, or $COSTOPS_DB).",
                 show_default=False),
]  # fmt: skip


def _check_wait(seconds: float) -> float:
    if math.isnan(seconds) or seconds < 0:
        raise typer.BadParameter("expected a number of seconds, 0 or more")
    return seconds


WaitOption = Annotated[
    float,
    typer.Option("--wait", metavar="SECONDS", callback=_check_wait,
                 help="Seconds to wait while another costops process writes the database "
                 "(default: fail at once, exit 5)."),
]  # fmt: skip
PricingOption = Annotated[
    list[str] | None,
    typer.Option("--pricing", help="Extra pricing tables directory (wins over packaged tables; "
                 "also $COSTOPS_PRICING).", show_default=False),
]  # fmt: skip
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", help="Config file (default ./costops.yaml when present).",
                 show_default=False),
]  # fmt: skip
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="table | json | csv | markdown | parquet.")
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="From this local date/time (inclusive), e.g. 2026-03-01."),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="Up to this local date (inclusive) or time (exclusive)."),
]
WhereOption = Annotated[
    list[str] | None, typer.Option("--where", help="DIM=VALUE filter; repeat for more.")
]
TzOption = Annotated[str, typer.Option("--tz", help="Time zone for day/week/month and dates.")]


def db_path(db: str | None) -> str:
    return resolve_db_path(db)


def check_format(fmt: str) -> str:
    if fmt not in OUTPUT_FORMATS:
        raise UsageError(f"--format {fmt}: expected one of {', '.join(OUTPUT_FORMATS)}")
    return fmt


def emit(rendered: Any, output: Path | None) -> None:
    """Data goes to stdout or --output; a rich renderable is printed, text written as is."""
    if isinstance(rendered, ParquetRows):
        if output is None:
            raise UsageError("--format parquet writes a file: add --output FILE.parquet")
        rendered.write(output)
        return
    if isinstance(rendered, str):
        if output:
            output.write_text(rendered, encoding="utf-8")
        else:
            sys.stdout.write(rendered)
        return
    if output:
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=160, highlight=False).print(rendered)
    else:
        # Piped output keeps every column: a terminal's width, else a wide fixed one.
        width = None if sys.stdout.isatty() else 160
        Console(highlight=False, width=width).print(rendered)
