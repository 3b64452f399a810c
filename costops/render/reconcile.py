"""Render a Reconciliation: groups with their likely cause, then the most different requests."""

from __future__ import annotations

from typing import Any

from rich.console import Group

from costops.analysis.reconcile import Reconciliation
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


def render(result: Reconciliation, fmt: str) -> Any:
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
