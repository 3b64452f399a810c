"""`costops ingest`: files, directories, globs, .gz or stdin into the store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TimeRemainingColumn
from rich.text import Text

from costops.cli.common import ConfigOption, DbOption, WaitOption, db_path
from costops.errors import InputDataError, UsageError
from costops.ingest.formats import FORMATS
from costops.render.table import stderr
from costops.render.words import count

if TYPE_CHECKING:
    import duckdb

    from costops.ingest.batched import Options
    from costops.ingest.lake import LakeWrite
    from costops.ingest.run import FileResult
    from costops.ingest.sources import Source


class Kind(StrEnum):
    auto = "auto"
    requests = "requests"
    evals = "evals"


def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories, globs, .gz, or - for stdin.")
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", help="auto (detect per line) | " + " | ".join(FORMATS[1:]) + "."),
    ] = "auto",
    kind: Annotated[
        Kind, typer.Option("--kind", case_sensitive=False, help="auto: told apart per line.")
    ] = Kind.auto,
    strict: Annotated[
        bool, typer.Option("--strict", help="Any bad line: keep nothing from that file, exit 3.")
    ] = False,
    timestamp: Annotated[
        str | None,
        typer.Option(
            "--timestamp",
            help="Time for records that carry none: batch results (default: the file's "
            "modification time), bare Gemini / Bedrock responses (default: none, quarantined).",
        ),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="DIM=PATH: take a dimension from a JSON path of the line "
            "(metadata.team, $.tags[0]) or an OTel span attribute (otel:KEY).",
        ),
    ] = None,
    config: ConfigOption = None,
    keep_text: Annotated[
        bool,
        typer.Option(
            "--keep-text",
            help="Also store the text of each request's logged line and of each quarantined "
            "line, and prompt-like attributes: prompts and completions included, keys and "
            "e-mail addresses redacted (off by default).",
        ),
    ] = False,
    lake: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="DIR",
            help="Also write the canonical requests and evals as Parquet partitioned by day "
            "under DIR (for --engine spark), rewritten per source file when it changes.",
        ),
    ] = None,
    wait: WaitOption = 0.0,
    db: DbOption = None,
) -> None:
    """Ingest request logs and eval records; bad lines are quarantined, good ones kept."""
    ingest_paths(paths, fmt=fmt, kind=kind.value, strict=strict, timestamp=timestamp,
                 mapping=mapping, config=config, keep_text=keep_text, wait=wait, db=db,
                 lake=lake)  # fmt: skip


def ingest_paths(
    paths: list[str],
    *,
    fmt: str = "auto",
    kind: str = "auto",
    strict: bool = False,
    timestamp: str | None = None,
    mapping: list[str] | None = None,
    config: str | None = None,
    keep_text: bool = False,
    wait: float = 0.0,
    db: str | None = None,
    brief: bool = False,
    lake: str | None = None,
) -> None:
    """`costops ingest PATHS`; `brief` (an analysis's --ingest) names only the files with
    something to say, then the totals; `lake` (--to DIR) also writes the Parquet lake there."""
    from costops.config import load_config, parse_map_options
    from costops.ingest.batched import Options, ingest_sources
    from costops.ingest.lake import write_lake
    from costops.ingest.sources import expand
    from costops.store.db import INGEST_MEMORY_LIMIT, open_db

    _check_timestamp(timestamp)  # before any file is read
    mappings = {**load_config(config).dimensions, **parse_map_options(mapping)}
    sources = expand(paths)
    path = db_path(db)
    results: list[FileResult] = []
    options = Options(fmt, kind, strict, timestamp, mappings, keep_text)
    with open_db(path, wait=wait, memory_limit=INGEST_MEMORY_LIMIT) as con:
        one = functools.partial(_ingest_one, con, options)
        for result in ingest_sources(con, sources, options, one):
            results.append(result)
            if not brief or _notable(result):
                _print_file(result)
        written = write_lake(con, lake) if lake is not None else None  # after the commits
    _print_totals(results, path, always=brief)
    if lake is not None and written is not None:
        _print_lake(lake, written)
    damaged = [r for r in results if r.damage]
    if damaged:
        raise InputDataError(
            f"{count(len(damaged), 'file')} could not be read to the end; their readable lines "
            f"were kept (first: {damaged[0].name}: {damaged[0].damage})"
        )
    refused = [r for r in results if r.status == "refused"]
    if refused:
        raise InputDataError(
            f"{count(len(refused), 'file')} refused, nothing read from them "
            f"(first: {refused[0].name}: {refused[0].refused})"
        )
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:
        raise InputDataError(
            f"{count(len(rejected), 'file')} had bad lines and --strict is set; nothing from them "
            f"was kept (first: {rejected[0].name})"
        )
    usable = sum(r.requests_inserted + r.evals_inserted + r.duplicates for r in results)
    if not usable and any(r.quarantined for r in results):
        raise InputDataError("no usable lines in the input; see the quarantine reasons above")


def _check_timestamp(timestamp: str | None) -> None:
    if timestamp is None:
        return
    try:
        dt.datetime.fromisoformat(timestamp)
    except ValueError as exc:
        raise UsageError(
            f"--timestamp {timestamp!r}: expected a time like 2026-03-01T12:00:00Z"
        ) from exc


def _ingest_one(con: duckdb.DuckDBPyConnection, given: Options, source: Source) -> FileResult:
    from costops.ingest.run import ingest_source

    options = dataclasses.asdict(given)
    if not stderr.is_terminal:
        return ingest_source(con, source, **options)
    columns = ("{task.description}", BarColumn(), LinesColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(source.name, total=None)
        return ingest_source(
            con, source, **options,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip


class LinesColumn(ProgressColumn):
    """Lines done (of the total, once the file's lines are counted) and lines per second."""

    def render(self, task: Task) -> Text:
        done = f"{task.completed:,.0f}" + (f"/{task.total:,.0f}" if task.total else "")
        speed = f" {task.speed:,.0f}/s" if task.speed else ""
        return Text(f"{done} lines{speed}", style="progress.data.speed")


def _print_file(result: FileResult) -> None:
    if result.status == "skipped":
        why = "same content" if result.sha256 else "unchanged since"
        stderr.print(f"{result.name}: already ingested ({why}), skipped")
        return
    if result.status == "refused":
        stderr.print(f"{result.name}: refused, nothing read: {result.refused}")
        return
    parts = [
        f"{count(result.lines_read, 'line')} ({_formats(result)})",
        f"{count(result.requests_inserted, 'request')} inserted"
        + (f" ({result.requests_replaced:,} replaced a less complete record)"
           if result.requests_replaced else ""),
        f"{count(result.evals_inserted, 'eval')} inserted",
        f"{count(result.duplicates, 'duplicate')}",
        f"{result.quarantined:,} quarantined",
        *([f"{result.skipped:,} skipped (no usage)"] if result.skipped else []),
        *([f"{result.batch_inputs:,} batch inputs kept"] if result.batch_inputs else []),
        *([f"{count(result.prefixes_dropped, 'prefix')} dropped (prefix_tokens > input_tokens)"]
          if result.prefixes_dropped else []),
    ]  # fmt: skip
    verdict = " — REJECTED (--strict), nothing kept" if result.status == "rejected" else ""
    stderr.print(f"{result.name}: " + " · ".join(parts) + verdict)
    for line_no, reason in result.bad_lines:
        stderr.print(f"  {result.name}:{line_no}: {reason}")
    if result.quarantined > len(result.bad_lines):
        stderr.print(f"  … and {result.quarantined - len(result.bad_lines):,} more")
    if result.top_reasons and result.quarantined > len(result.bad_lines):
        top = ", ".join(f"{why} ({n:,})" for why, n in result.top_reasons)
        stderr.print(f"  top reasons: {top}")


def _formats(result: FileResult) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in result.formats.most_common()) or "empty"


def _notable(result: FileResult) -> bool:
    return bool(result.quarantined or result.damage or result.status in ("refused", "rejected"))


def _print_lake(directory: str, written: LakeWrite) -> None:
    stderr.print(
        f"lake {directory}: {count(written.sources, 'source')} written "
        f"({count(written.requests, 'request')}, {count(written.evals, 'eval')})"
        + (f" · {written.unchanged:,} unchanged" if written.unchanged else "")
        + (
            f" · {count(written.removed, 'file')} of other sources removed"
            if written.removed
            else ""
        ),
    )


def _print_totals(results: list[FileResult], path: str, *, always: bool = False) -> None:
    from costops.ingest.run import FileResult

    if len(results) < 2 and not always:
        return
    total = FileResult("total")
    skipped = sum(r.status == "skipped" for r in results)
    for r in results:
        total.lines_read += r.lines_read
        total.requests_inserted += r.requests_inserted
        total.evals_inserted += r.evals_inserted
        total.good_lines += r.good_lines
        total.quarantined += r.quarantined
    stderr.print(
        f"{count(len(results), 'file')} into {path}: {count(total.lines_read, 'line')} read · "
        f"{count(total.requests_inserted, 'request')} and {count(total.evals_inserted, 'eval')} "
        f"inserted · {count(total.duplicates, 'duplicate')} · {total.quarantined:,} quarantined"
        + (f" · {count(skipped, 'file')} already ingested, skipped" if skipped else ""),
    )
