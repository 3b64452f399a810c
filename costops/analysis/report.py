"""Where the money goes: group-by with Pareto shares and cost per success (SPEC §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from costops.analysis.filters import TIME_DIMENSIONS, Dimension, Filters, where_clause
from costops.analysis.rollup import PARTIAL_COLUMNS, PARTIAL_SUMS_SQL, ROLLUP_VIEW, covers
from costops.analysis.session import fetch_dicts
from costops.engine import select_list

# Per group, from partial sums (alias g) that keep each unit's task (_task) and verdict apart:
# a request without a task is a unit of its own, so only task ids need a distinct count.
METRICS_SQL = """
    COALESCE(sum(g.requests), 0) AS requests,
    COALESCE(sum(CASE WHEN g._task IS NULL THEN g.requests ELSE 0 END)
             + count(DISTINCT g._task), 0) AS units,
    sum(g.input_tokens) AS input_tokens,
    sum(g.output_tokens) AS output_tokens,
    sum(g.cache_read_tokens) AS cache_read_tokens,
    sum(g.cache_write_tokens) AS cache_write_tokens,
    CAST(sum(g.cost) AS DOUBLE) AS cost,
    sum(CASE WHEN g._task IS NULL AND g._evaluated THEN g.requests ELSE 0 END)
        + count(DISTINCT CASE WHEN g._evaluated THEN g._task END) AS evaluated_units,
    sum(CASE WHEN g._task IS NULL AND g._success THEN g.requests ELSE 0 END)
        + count(DISTINCT CASE WHEN g._success THEN g._task END) AS successful_units,
    CAST(sum(CASE WHEN g._evaluated THEN g.cost ELSE 0 END) AS DOUBLE) AS evaluated_cost,
    CAST(sum(CASE WHEN NOT g._evaluated THEN g.cost ELSE 0 END) AS DOUBLE) AS unevaluated_cost,
    sum(g.unpriced_requests) AS unpriced_requests,
    sum(g.unpriced_tokens) AS unpriced_tokens
"""
UNIT_KEYS_SQL = "p.task_id AS _task, p.unit_evaluated AS _evaluated, p.unit_success AS _success"

RATIOS_SQL = """
    CASE WHEN units > 0 THEN evaluated_units / units END AS evaluated_share,
    CASE WHEN evaluated_units > 0 THEN successful_units / evaluated_units END AS pass_rate,
    CASE WHEN successful_units > 0 THEN evaluated_cost / successful_units END AS cost_per_success
"""

ROW_KEYS = (
    "requests", "units", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost", "share", "cumulative_share", "pareto_head", "evaluated_units",
    "successful_units", "evaluated_share", "pass_rate", "cost_per_success", "evaluated_cost",
    "unevaluated_cost", "unpriced_requests", "unpriced_tokens",
)  # fmt: skip
SUM_KEYS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost",
    "evaluated_units", "successful_units", "evaluated_cost", "unevaluated_cost",
    "unpriced_requests", "unpriced_tokens",
)  # fmt: skip
PARETO_THRESHOLD = 0.8


@dataclass
class Report:
    group_by: list[str]
    filters: Filters
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
    cost_basis: str = "effective"  # or "list": before contract discounts


def build_report(
    con: duckdb.DuckDBPyConnection,
    dims: list[Dimension],
    filters: Filters,
    top: int | None = None,
) -> Report:
    where, params = where_clause(filters)
    partials = _rollup_sql(dims, where) if covers(con, dims, filters) else _scan_sql(dims, where)
    con.execute(_groups_sql(dims, partials), params)
    totals = fetch_dicts(con, _totals_sql(con))[0]
    if not totals["requests"]:  # nothing in scope: sums are 0 (NULL would mean unpriced)
        totals.update({k: 0.0 if "cost" in k else 0 for k in SUM_KEYS if totals[k] is None})
    totals.update(share=1.0 if totals["cost"] else None, cumulative_share=None, pareto_head=None)
    rows = fetch_dicts(con, _rows_sql(dims)) if dims else []
    con.execute("DROP TABLE _report_groups")
    if top is not None:  # the N costliest (rows in time order stay in time order)
        ranked = sorted(
            range(len(rows)), key=lambda i: (rows[i]["cost"] is None, -(rows[i]["cost"] or 0))
        )
        kept = set(ranked[:top])
        rows = [row for i, row in enumerate(rows) if i in kept]
    return Report([d.name for d in dims], filters, totals, rows)


def _keys(dims: list[Dimension]) -> str:
    return "".join(f'{d.sql} AS "{d.name}", ' for d in dims)


def _scan_sql(dims: list[Dimension], where: str) -> str:
    """Partial sums per group, task and verdict, from every priced request in scope."""
    return f"""
    SELECT {_keys(dims)}{UNIT_KEYS_SQL}, {PARTIAL_SUMS_SQL}
    FROM evaluated_requests p WHERE {where}
    GROUP BY ALL
    """


def _rollup_sql(dims: list[Dimension], where: str) -> str:
    """The same partial sums, read from the rollup (costops.analysis.rollup)."""
    sums = ", ".join(f"p.{c}" for c in PARTIAL_COLUMNS)
    return f"SELECT {_keys(dims)}{UNIT_KEYS_SQL}, {sums} FROM {ROLLUP_VIEW} p WHERE {where}"


def _groups_sql(dims: list[Dimension], partials: str) -> str:
    """Every group and the total (a grouping set of its own) from the partial sums."""
    if not dims:
        return f"""
        CREATE OR REPLACE TEMP TABLE _report_groups AS
        SELECT {METRICS_SQL}, true AS is_total FROM ({partials}) g
        """
    names = ", ".join(f'"{d.name}"' for d in dims)
    return f"""
    CREATE OR REPLACE TEMP TABLE _report_groups AS
    SELECT {names}, {METRICS_SQL}, grouping({names}) > 0 AS is_total
    FROM ({partials}) g
    GROUP BY GROUPING SETS (({names}), ())
    """


def _totals_sql(con: duckdb.DuckDBPyConnection) -> str:
    metrics = select_list(con, "_report_groups", exclude=["is_total"])
    return f"SELECT {metrics}, {RATIOS_SQL} FROM _report_groups WHERE is_total"


def _rows_sql(dims: list[Dimension]) -> str:
    """Rows by cost (the Pareto ranking), or in time order when every dimension is a time
    bucket; shares and the Pareto head are ranked by cost either way."""
    order = ", ".join(f'"{d.name}" ASC NULLS LAST' for d in dims)
    ranking = f"ORDER BY cost DESC NULLS LAST, {order}"
    shown = f"ORDER BY {order}" if all(d.name in TIME_DIMENSIONS for d in dims) else ranking
    return f"""
    WITH shared AS (
        SELECT *, {RATIOS_SQL},
            cost / NULLIF(all_cost, 0) AS share,
            CASE WHEN cost IS NOT NULL THEN
                sum(cost) OVER ({ranking} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                / NULLIF(all_cost, 0) END AS cumulative_share,
            COALESCE(sum(cost) OVER ({ranking} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                / NULLIF(all_cost, 0) AS preceding_share
        FROM _report_groups,
            (SELECT cost AS all_cost FROM _report_groups WHERE is_total) AS whole
        WHERE NOT is_total
    )
    SELECT {", ".join(f'"{d.name}"' for d in dims)}, {", ".join(ROW_KEYS[:7])},
        share, cumulative_share,
        -- the smallest set of top rows whose cumulative share reaches 80 %
        cost IS NOT NULL AND preceding_share < {PARETO_THRESHOLD} AS pareto_head,
        {", ".join(ROW_KEYS[10:])}
    FROM shared
    {shown}
    """
