"""A Reconciliation as a Result: groups with their likely cause, then the most different
requests."""

from __future__ import annotations

from costops.analysis.reconcile import Reconciliation
from costops.render.columns import Column
from costops.render.result import Result, Section

METRIC_COLUMNS = [
    Column("requests", "requests", "int", priority=2),
    Column("computed_cost", "costops", "money"),
    Column("logged_cost", "logged", "money"),
    Column("difference", "difference", "money"),
    Column("difference_pct", "diff %", "pct", priority=1),
    Column("differing_requests", "differing", "int", priority=2),
    Column("likely_cause", "likely cause"),
]
TOP_COLUMNS = [
    Column("request_id", "request"),
    Column("ts", "time (UTC)", priority=3),
    Column("feature", "feature", priority=2),
    Column("model", "model", priority=2),
    Column("computed_cost", "costops", "money"),
    Column("logged_cost", "logged", "money"),
    Column("difference", "difference", "money"),
    Column("cause", "likely cause"),
]


def reconciliation_result(result: Reconciliation) -> Result:
    columns = [*(Column(d, d) for d in result.group_by), *METRIC_COLUMNS]
    totals = result.totals
    if totals.get("requests"):
        title = (
            f"Reconciliation with logged costs ({totals['requests']:,} "
            f"request{'s carry' if totals['requests'] != 1 else ' carries'} one; "
            f"tolerance {result.tolerance:.1%})"
        )
    else:
        title = "Reconciliation: no stored request carries a logged cost"
    sections = [Section("rows", title, columns, result.rows, totals)]
    if result.top_requests:
        sections.append(
            Section("top_requests", "The most different requests", TOP_COLUMNS, result.top_requests)
        )
    meta = {"group_by": result.group_by, "currency": "USD", "tolerance": result.tolerance}
    return Result(meta, sections)
