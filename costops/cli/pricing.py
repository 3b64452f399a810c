"""`costops pricing list|show|check|coverage`: the tables, one model's history, gaps."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from costops.analysis.coverage import coverage_rows
from costops.analysis.session import analysis_session
from costops.cli.common import (
    DbOption,
    FormatOption,
    OutputOption,
    PricingOption,
    check_format,
    db_path,
    emit,
)
from costops.errors import CheckFailed, PricingError, UsageError
from costops.rates.inspect import check, history_rows, list_rows, resolve_model
from costops.rates.tables import load_tables
from costops.render.columns import Column
from costops.render.formats import ParquetRows, to_csv, to_json, to_markdown
from costops.render.table import rich_table, stderr

app = typer.Typer(help="Inspect and check the versioned pricing tables.", no_args_is_help=True)

RATE_COLUMNS = [
    Column("input", "input", "rate"),
    Column("output", "output", "rate"),
    Column("cache_read", "cache read", "rate"),
    Column("cache_write_5m", "write 5m", "rate"),
    Column("cache_write_1h", "write 1h", "rate"),
]
LIST_COLUMNS = [
    Column("provider", "provider"),
    Column("model", "model"),
    Column("effective_from", "since"),
    *RATE_COLUMNS,
    Column("long_context_above", "long ctx >", "int"),
    Column("batch_multiplier", "batch x", "rate"),
    Column("versions", "versions", "int"),
]
SHOW_COLUMNS = [
    Column("effective_from", "from"),
    Column("effective_to", "to", "rate"),
    *RATE_COLUMNS,
    Column("long_context_above", "long ctx >", "int"),
    Column("long_context_input", "lc input", "rate"),
    Column("long_context_output", "lc output", "rate"),
    Column("batch_multiplier", "batch x", "rate"),
]
COVERAGE_COLUMNS = [
    Column("provider", "provider"),
    Column("model", "logged model"),
    Column("priced_as", "priced as"),
    Column("status", "status"),
    Column("requests", "requests", "int"),
    Column("unpriced_requests", "unpriced", "int"),
    Column("unpriced_tokens", "unpriced tokens", "tokens"),
    Column("first_seen", "first seen"),
    Column("last_seen", "last seen"),
]


def _render(title: str, columns: list[Column], rows: list[dict[str, Any]], fmt: str) -> Any:
    check_format(fmt)
    if fmt == "json":
        return to_json({"currency": "USD", "unit": "USD per million tokens", "rows": rows})
    if fmt == "csv":
        return to_csv(rows, list(rows[0]) if rows else [c.key for c in columns])
    if fmt == "parquet":
        return ParquetRows([{k: v for k, v in r.items() if not isinstance(v, dict)} for r in rows])
    if fmt == "markdown":
        return to_markdown(rows, columns)
    return rich_table(title, columns, rows)


@app.command("list")
def list_models(
    fmt: FormatOption = "table", output: OutputOption = None, pricing: PricingOption = None
) -> None:
    """Every priced model with its current rates (USD per million tokens)."""
    tables = load_tables(pricing)
    title = f"{len(tables.models)} priced models (USD per million tokens, current version)"
    emit(_render(title, LIST_COLUMNS, list_rows(tables), fmt), output)


@app.command("show")
def show(
    model: Annotated[str, typer.Argument(help="Table id or a logged model name.")],
    fmt: FormatOption = "table",
    output: OutputOption = None,
    pricing: PricingOption = None,
) -> None:
    """The dated price history of one model."""
    tables = load_tables(pricing)
    found = resolve_model(tables, model)
    if found is None:
        raise UsageError(
            f"{model}: no pricing table matches this model; see `costops pricing list`"
        )
    title = f"{found.key} — matches {', '.join(found.match)} ({found.source_file})"
    emit(_render(title, SHOW_COLUMNS, history_rows(found), fmt), output)


@app.command("check")
def check_tables(pricing: PricingOption = None) -> None:
    """Validate the tables: schema, version order, pattern clashes, missing cache rates."""
    tables = load_tables(pricing)
    findings = check(tables)
    for finding in findings:
        stderr.print(f"{finding.level}: {finding.where}: {finding.message}", markup=False)
    errors = sum(f.level == "error" for f in findings)
    versions = sum(len(m.versions) for m in tables.models)
    stderr.print(
        f"{len(tables.files)} files, {len(tables.models)} models, {versions} versions: "
        f"{errors} errors, {len(findings) - errors} warnings",
        markup=False,
    )
    if errors:
        raise PricingError(f"{errors} problem(s) in the pricing tables (listed above)")


@app.command("coverage")
def coverage(
    fail_on_unpriced: Annotated[
        bool, typer.Option("--fail-on-unpriced", help="Exit 1 when any request has no price.")
    ] = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    pricing: PricingOption = None,
) -> None:
    """Logged models and whether a table prices them (unpriced is NULL, never $0)."""
    with analysis_session(db_path(db), pricing) as con:
        rows = coverage_rows(con)
    emit(_render("Pricing coverage of logged models", COVERAGE_COLUMNS, rows, fmt), output)
    unpriced = sum(r["unpriced_requests"] for r in rows)
    if fail_on_unpriced and unpriced:
        raise CheckFailed(f"{unpriced:,} requests have no price; add a table with --pricing DIR")
