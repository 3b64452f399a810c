"""A Report as a Result: the Pareto table, its head highlighted."""

from __future__ import annotations

from costops.analysis.report import ROW_KEYS, Report
from costops.render.columns import Column
from costops.render.result import Result, Section, scope_meta

# priority: which columns a narrow terminal drops first (the highest number; 0 never)
METRIC_COLUMNS = [
    Column("pareto_head", "80%", "mark", priority=2),
    Column("requests", "requests", "int", priority=1),
    Column("units", "units", "int", priority=5),
    Column("input_tokens", "input tok", "tokens", priority=4),
    Column("output_tokens", "output tok", "tokens", priority=4),
    Column("cost", "cost", "money"),
    Column("share", "share", "pct", priority=1),
    Column("cumulative_share", "cum.", "pct", priority=3),
    Column("pass_rate", "pass rate", "pct", priority=2),
    Column("cost_per_success", "cost/success", "money", priority=2),
    Column("unpriced_requests", "unpriced", "int", priority=3),
]


def report_result(report: Report) -> Result:
    columns = [Column(name, name) for name in report.group_by] + METRIC_COLUMNS
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
    if not report.totals.get("requests"):
        caption = "No request in scope."
    totals = {k: report.totals.get(k) for k in ROW_KEYS}
    rows = Section("rows", title, columns, report.rows, totals, "pareto_head", caption)
    meta = {**scope_meta(report.group_by, report.filters), "cost_basis": report.cost_basis}
    return Result(meta, [rows], csv_keys=[*report.group_by, *ROW_KEYS])
