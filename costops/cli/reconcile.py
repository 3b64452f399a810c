"""`costops reconcile`: costops' cost against the cost the logs reported, and why they differ."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group

from costops.analysis.filters import Filters, parse_dimensions, parse_where, validate_timezone
from costops.analysis.reconcile import Reconciliation, reconcile
from costops.analysis.session import analysis_session
from costops.cli.common import (
    DbOption,
    FormatOption,
    OutputOption,
    PricingOption,
    SinceOption,
    UntilOption,
    WhereOption,
    check_format,
    db_path,
    emit,
)
from costops.errors import CheckFailed, UsageError
from costops.render.columns import Column
from costops.render.formats import ParquetRows, to_csv, to_json, to_markdown
from costops.render.table import rich_table

METRIC_COLUMNS = [
    Column("requests", "requests", "int"),
    Column("computed_cost", "costops", "money"),
    Column("logged_cost", "logged", "money"),
    Column("difference", "difference", "money"),
    Column("difference_pct", "diff %", "pct"),
    Column("differing_requests", "differing", "int"),
    Column("likely_cause", "likely cause"),
]
TOP_COLUMNS = [
    Column("request_id", "request"),
    Column("ts", "time (UTC)"),
    Column("feature", "feature"),
    Column("model", "model"),
    Column("computed_cost", "costops", "money"),
    Column("logged_cost", "logged", "money"),
    Column("difference", "difference", "money"),
    Column("cause", "likely cause"),
]


def reconcile_command(
    by: Annotated[str, typer.Option("--by", help="Dimensions, comma-separated.")] = "feature,model",
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", help="Allowed difference, relative to the logged cost."),
    ] = 0.01,
    top: Annotated[int, typer.Option("--top", help="How many differing requests to list.")] = 10,
    fail: Annotated[
        bool, typer.Option("--fail-on-difference", help="Exit 1 when any request differs.")
    ] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    pricing: PricingOption = None,
) -> None:
    """Compare costops' cost with the cost the logs reported (logged_cost), by group and for the
    most different requests, naming the likely cause."""
    check_format(fmt)
    if not 0 <= tolerance < 1:
        raise UsageError(f"--tolerance {tolerance}: expected a fraction such as 0.01 (1 %)")
    with analysis_session(db_path(db), pricing) as con:
        validate_timezone(con, "UTC")
        filters = Filters(since, until, parse_where(where), "UTC")
        result = reconcile(con, parse_dimensions(by, "UTC"), filters, tolerance, top)
    emit(_render(result, fmt), output)
    differing = result.totals.get("differing_requests") or 0
    if fail and differing:
        raise CheckFailed(f"{differing:,} requests differ from their logged cost")


def _render(result: Reconciliation, fmt: str) -> Any:
    columns = [*(Column(d, d) for d in result.group_by), *METRIC_COLUMNS]
    if fmt == "json":
        return to_json({"currency": "USD", "group_by": result.group_by,
                        "tolerance": result.tolerance, "totals": result.totals,
                        "rows": result.rows, "top_requests": result.top_requests})  # fmt: skip
    if fmt == "csv":
        return to_csv(result.rows, [c.key for c in columns])
    if fmt == "parquet":
        return ParquetRows(result.rows)
    if fmt == "markdown":
        return (
            to_markdown(result.rows, columns) + "\n" + to_markdown(result.top_requests, TOP_COLUMNS)
        )
    totals = result.totals
    if not totals.get("requests"):
        title = "Reconciliation: no stored request carries a logged cost"
        return rich_table(title, columns, [])
    title = (
        f"Reconciliation with logged costs ({totals['requests']:,} requests carry one; "
        f"tolerance {result.tolerance:.1%})"
    )
    label = {result.group_by[0]: "total"} if result.group_by else {}
    groups = rich_table(title, columns, result.rows, totals={**totals, **label})
    if not result.top_requests:
        return groups
    top = rich_table("The most different requests", TOP_COLUMNS, result.top_requests)
    return Group(groups, top)
