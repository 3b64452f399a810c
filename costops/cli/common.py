"""Options shared by every command, and writing results to stdout or --output."""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from costops.errors import UsageError

if TYPE_CHECKING:
    from costops.render.result import Result


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    parquet = "parquet"


# `-o FILE` picks the format from its extension, unless --format is given.
EXTENSION_FORMATS = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown",
                     ".parquet": "parquet", ".txt": "table"}  # fmt: skip

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="DuckDB file (default ./costops.duckdb, or $COSTOPS_DB).",
                 show_default=False),
]  # fmt: skip


def _check_wait(seconds: float) -> float:
    if math.isnan(seconds) or seconds < 0:
        raise typer.BadParameter("expected a number of seconds, 0 or more")
    return seconds


def check_amount(value: float | None) -> float | None:
    """A budget or price given on the command line: a number, 0 or more."""
    if value is not None and (not math.isfinite(value) or value < 0):
        raise typer.BadParameter("expected an amount, 0 or more")
    return value


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
EmbeddingsOption = Annotated[
    str | None,
    typer.Option("--embeddings", metavar="FILE", show_default=False,
                 help="Query embeddings for the semantic cache: Parquet or JSONL, request_id and "
                 "embedding (a list of floats) per row (without it, a semantic_key attribute "
                 "is the exact cache key)."),
]  # fmt: skip
SelfHostOption = Annotated[
    str | None,
    typer.Option("--self-host", metavar="MODEL", show_default=False,
                 help="Beside the savings waterfall: this open model served on rented GPUs "
                 "instead of the API (simulate self-host's defaults)."),
]  # fmt: skip
EngineOption = Annotated[
    str | None,
    typer.Option("--engine", metavar="ENGINE", show_default=False,
                 help="Where the analysis runs: duckdb (default, the --db store), spark (local), "
                 "local[N], or sc://HOST:PORT (Spark Connect); Spark reads --source."),
]  # fmt: skip
SourceOption = Annotated[
    str | None,
    typer.Option("--source", metavar="LAKE", show_default=False,
                 help="With --engine spark: a lake written by `costops ingest --to DIR` (a "
                 "folder, s3a://…) or table:CATALOG.SCHEMA.TABLE (the requests table)."),
]  # fmt: skip
IngestOption = Annotated[
    list[str] | None,
    typer.Option("--ingest", metavar="PATH", show_default=False,
                 help="First bring these logs up to date in the store, as `costops ingest` does "
                 "(files, directories, globs; repeat for more): files unchanged since are "
                 "skipped unread."),
]  # fmt: skip
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", help="Config file (default ./costops.yaml when present).",
                 show_default=False),
]  # fmt: skip
FormatOption = Annotated[
    OutputFormat | None,
    typer.Option("--format", "-f", case_sensitive=False, show_default=False,
                 help="Output format [default: from -o FILE's extension, else table]."),
]  # fmt: skip
OutputOption = Annotated[
    str | None,
    typer.Option("--output", "-o", metavar="FILE", show_default=False,
                 help="Write to FILE (- is stdout); .csv .json .md .parquet pick the format."),
]  # fmt: skip
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


def ingest_first(
    paths: list[str] | None,
    db: str | None,
    wait: float,
    config: str | None = None,
    engine: str | None = None,
) -> None:
    """An analysis's --ingest: the files brought up to date before it reads the store, with the
    dimension mappings of the command's --config (default ./costops.yaml when present)."""
    if paths and engine not in (None, "duckdb"):
        raise UsageError(
            f"--ingest writes the DuckDB store, and --engine {engine} reads a lake: run "
            "`costops ingest LOGS --to DIR` first"
        )
    if paths:
        from costops.cli.ingest import ingest_paths

        ingest_paths(paths, db=db, wait=wait, config=config, brief=True)


def db_path(db: str | None) -> str:
    from costops.store.db import resolve_db_path

    return resolve_db_path(db)


def output_format(fmt: OutputFormat | None, output: str | None) -> str:
    """--format when given, else the format -o FILE's extension names, else a table."""
    if fmt is not None:
        return fmt.value
    suffix = Path(output).suffix.lower() if output and output != "-" else ""
    if suffix and suffix not in EXTENSION_FORMATS:
        known = " ".join(EXTENSION_FORMATS)
        raise UsageError(f"-o {output}: which format? name a file ending {known}, or add --format")
    return EXTENSION_FORMATS.get(suffix, "table")


def emit(result: Result, fmt: OutputFormat | None, output: str | None) -> None:
    """Data goes to stdout or -o FILE, in the format asked for; a file that cannot be written is
    a one-line error."""
    from costops.render.result import render

    rendered = render(result, output_format(fmt, output))
    path = None if output in (None, "-") else Path(output)
    with writing(path):
        _write(rendered, path, wide=result.layout == "wide")


def check_output(path: Path | None) -> None:
    """A path -o can write, checked before any work: exit 2 in one line otherwise."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"-o {path}: is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"-o {path}: no such directory: {path.parent}")


@contextmanager
def writing(path: Path | None) -> Iterator[None]:
    """Writing -o FILE: a failure (disk full, no permission) is one line, exit 2."""
    check_output(path)
    try:
        yield
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot write: {exc.strerror or exc}") from exc
    except Exception as exc:  # DuckDB's COPY reports a write failure as its IOException
        if type(exc).__name__ != "IOException":
            raise
        raise UsageError(f"-o {path}: cannot write: {exc}") from exc


PIPED_WIDTH = 160  # a table piped or written to a file: this wide, no trailing spaces
WIDE = 10_000  # --wide: every column, however wide


def _write(rendered: object, path: Path | None, *, wide: bool) -> None:
    from costops.render.result import ParquetRows

    if isinstance(rendered, ParquetRows):
        if path is None:
            raise UsageError("Parquet is written to a file: add -o FILE.parquet")
        rendered.write(path)
        return
    if not isinstance(rendered, str):  # a table
        if path is None and sys.stdout.isatty():  # the terminal's width (or every column)
            Console(highlight=False, width=WIDE if wide else None).print(rendered)
            return
        buffer = io.StringIO()
        Console(file=buffer, width=WIDE if wide else PIPED_WIDTH, highlight=False).print(rendered)
        rendered = "\n".join(line.rstrip() for line in buffer.getvalue().split("\n"))
    if path is None:
        sys.stdout.write(rendered)
    else:
        path.write_text(rendered, encoding="utf-8")
