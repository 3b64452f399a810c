"""Agentic compounding (SPEC §9): per-task cost, fan-out, retries and the costliest tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from costops.analysis.filters import Dimension, Filters, where_clause
from costops.analysis.session import fetch_dicts

# One row per task: a failed call followed by another call in the same task is a retry.
TASKS_SQL = """
CREATE OR REPLACE TEMP TABLE _tasks AS
WITH calls AS (
    SELECT p.*, lag(p.status) OVER (PARTITION BY p.task_id ORDER BY p.ts, p.request_id)
        = 'error' AS after_failure
    FROM evaluated_requests p
    WHERE p.task_id IS NOT NULL AND {where}
)
SELECT task_id, {keys}
    count(*) AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    money_sum(cost) AS cost,
    sum(CASE WHEN after_failure THEN 1 ELSE 0 END) AS retries,
    date_diff('millisecond', min(ts), max(ts)) / 1000.0 AS duration_s,
    strftime(min(ts), '%Y-%m-%dT%H:%M:%SZ') AS started,
    bool_or(unit_evaluated) AS evaluated,
    bool_or(unit_success) AS passed
FROM calls p
GROUP BY task_id
"""

GROUPS_SQL = """
SELECT {names}
    count(*) AS tasks,
    avg(calls) AS calls_per_task,
    avg(input_tokens) AS input_tokens_per_task,
    avg(output_tokens) AS output_tokens_per_task,
    money_sum(cost) AS cost,
    quantile_cont(cost, 0.5) AS cost_p50,
    quantile_cont(cost, 0.95) AS cost_p95,
    max(cost) AS cost_max,
    sum(retries) / sum(calls) AS retry_share
FROM _tasks {group}
ORDER BY cost DESC NULLS LAST
"""

TOP_SQL = """
SELECT task_id, {names} calls, cost, duration_s, started,
    CASE WHEN evaluated THEN CASE WHEN passed THEN 'pass' ELSE 'fail' END END AS verdict
FROM _tasks ORDER BY cost DESC NULLS LAST, task_id LIMIT ?
"""


@dataclass
class TaskReport:
    group_by: list[str]
    filters: Filters
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
    costliest: list[dict[str, Any]]


def build_tasks(
    con: duckdb.DuckDBPyConnection, dims: list[Dimension], filters: Filters, top: int
) -> TaskReport:
    where, params = where_clause(filters)
    # a task's dimension values are those of its first call
    keys = "".join(f'arg_min({d.sql}, p.ts) AS "{d.name}", ' for d in dims)
    con.execute(TASKS_SQL.format(where=where, keys=keys), params)
    names = "".join(f'"{d.name}", ' for d in dims)
    group = f"GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))}" if dims else ""
    rows = fetch_dicts(con, GROUPS_SQL.format(names=names, group=group)) if dims else []
    totals = fetch_dicts(con, GROUPS_SQL.format(names="", group=""))[0]
    if not totals["tasks"]:  # nothing in scope: the cost is 0 (NULL would mean unpriced)
        totals["cost"] = 0.0
    costliest = fetch_dicts(con, TOP_SQL.format(names=names), [max(top, 0)])
    return TaskReport([d.name for d in dims], filters, totals, rows, costliest)
