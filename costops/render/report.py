"""Render a Report in every format; the table highlights the Pareto head."""

from __future__ import annotations

from typing import Any

from costops.analysis.report import ROW_KEYS, Report
from costops.render.columns import Column
from costops.render.formats import ParquetRows, to_csv, to_json, to_markdown
from costops.render.table import rich_table

METRIC_COLUMNS = [
    Column("pareto_head", "80%", "mark"),
    Column("requests", "requests", "int"),
    Column("units", "units", "int"),
    Column("input_tokens", "input tok", "tokens"),
    Column("output_tokens", "output tok", "tokens"),
    Column("cost", "cost", "money"),
    Column("share", "share", "pct"),
    Column("cumulative_share", "cum.", "pct"),
    Column("pass_rate", "pass rate", "pct"),
    Column("cost_per_success", "cost/success", "money"),
    Column("unpriced_requests", "unpriced", "int"),
]


def columns(report: Report) -> list[Column]:
    return [Column(name, name) for name in report.group_by] + METRIC_COLUMNS


def envelope(report: Report) -> dict[str, Any]:
    totals = {k: report.totals.get(k) for k in ROW_KEYS}
    return {
        "group_by": report.group_by,
        "currency": "USD",
        "cost_basis": report.cost_basis,
        "since": report.filters.since,
        "until": report.filters.until,
        "totals": totals,
        "rows": report.rows,
    }


def render(report: Report, fmt: str) -> Any:
    """A string for json/csv/markdown, a rich renderable for table."""
    if fmt == "json":
        return to_json(envelope(report))
    if fmt == "parquet":
        return ParquetRows(report.rows)
    if fmt == "csv":
        return to_csv(report.rows, [*report.group_by, *ROW_KEYS])
    labels = dict.fromkeys(report.group_by, "")
    totals = {**report.totals, **labels, **{d: "total" for d in report.group_by[:1]}}
    if fmt == "markdown":
        return to_markdown(report.rows, columns(report), totals)
    span = " → ".join(x for x in (report.filters.since, report.filters.until) if x)
    title = f"Cost by {', '.join(report.group_by) or 'everything'}"
    if span:
        title += f" · {span}"
    title += f" ({report.filters.tz}{', list prices' if report.cost_basis == 'list' else ''})"
    caption = "● the Pareto head: the fewest top rows that make up 80 % of cost."
    unpriced = report.totals.get("unpriced_requests") or 0
    if unpriced:
        caption += (
            f"\n{unpriced:,} request{'s' if unpriced != 1 else ''} with no price "
            "(cost unknown, not $0): see `costops pricing coverage`."
        )
    return rich_table(title, columns(report), report.rows, totals, "pareto_head", caption)
