"""Sums of priced requests per hour and dimensions, kept with the priced cache, so a report reads
thousands of rows instead of every request.

A report aggregates in two steps: partial sums per group, task and verdict (PARTIAL_SUMS_SQL),
then its metrics over those (costops.analysis.report). The rollup is the first step done once,
per (hour, ROLLUP_DIMENSIONS, task_id, verdict): a report grouped and filtered by those
dimensions, by time buckets that never split an hour, and between bounds on whole hours takes
the same second step over it. Distinct units stay exact because task_id is kept: a unit is a
request without a task, or a distinct task id.
"""

from __future__ import annotations

import duckdb

from costops.analysis.filters import (
    TIME_DIMENSIONS,
    Dimension,
    Filters,
    dimension,
    local_time,
    where_clause,
)
from costops.engine import is_spark

# Low-cardinality dimensions only: each multiplies the rows (the request's own ids do not).
ROLLUP_DIMENSIONS = (
    "provider", "model", "feature", "customer", "workspace", "environment", "prompt_template",
    "status", "service_tier", "region",
)  # fmt: skip
# What a report sums per group of priced requests (alias p), before it counts units.
PARTIAL_SUMS_SQL = """
    count(*) AS requests,
    sum(p.input_tokens) AS input_tokens,
    sum(p.output_tokens) AS output_tokens,
    sum(p.cache_read_tokens) AS cache_read_tokens,
    sum(p.cache_write_5m_tokens + p.cache_write_1h_tokens) AS cache_write_tokens,
    decimal_sum(p.cost) AS cost,
    count(*) - count(p.cost) AS unpriced_requests,
    sum(CASE WHEN p.cost IS NULL THEN p.input_tokens + p.output_tokens ELSE 0 END)
        AS unpriced_tokens
"""
PARTIAL_COLUMNS = (
    "requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost", "unpriced_requests", "unpriced_tokens",
)  # fmt: skip
# Besides the group's dimensions, what tells units apart: the task and the unit's verdict.
UNIT_KEYS = ("task_id", "unit_evaluated", "unit_success")

# Both costs: a session showing list prices reads list_cost as cost (cache.use_list_prices).
ROLLUP_SQL = f"""
SELECT date_trunc('hour', p.ts) AS ts, {", ".join(f"p.{d}" for d in ROLLUP_DIMENSIONS)},
    {", ".join(f"p.{k}" for k in UNIT_KEYS)}, {PARTIAL_SUMS_SQL},
    decimal_sum(p.list_cost) AS list_cost
FROM scoped_evaluated p
GROUP BY ALL
"""
# The priced requests a rollup build sums: all of them, or an incremental build's hours.
FULL_SCOPE = "SELECT * FROM evaluated_requests"
ROLLUP_VIEW = "priced_rollup"

# Each hour of the rollup at its first and its last instant (alias p, as a report's SQL reads).
HOUR_EDGES_SQL = """
WITH hours AS (SELECT DISTINCT ts FROM priced_rollup),
first AS (SELECT p.ts AS hour, {exprs} FROM (SELECT ts FROM hours) p),
last AS (
    SELECT p.ts - INTERVAL 1 HOUR + INTERVAL 1 MICROSECOND AS hour, {exprs}
    FROM (SELECT ts + INTERVAL 1 HOUR - INTERVAL 1 MICROSECOND AS ts FROM hours) p
)
SELECT count(*) FROM first JOIN last USING (hour) WHERE {differs}
"""


def covers(con: duckdb.DuckDBPyConnection, dims: list[Dimension], filters: Filters) -> bool:
    """Whether a report by `dims` under `filters` can read the rollup: this session has one,
    every dimension grouped or filtered by is in it (or a time bucket), and no hour of it is
    split by a time bucket, the time zone's offset or a --since/--until bound."""
    if not _installed(con):
        return False
    names = [d.name for d in dims] + [name for name, _ in filters.where]
    if not all(n in ROLLUP_DIMENSIONS or n == "task_id" or n in TIME_DIMENSIONS for n in names):
        return False
    timed = [d for d in dims if d.name in TIME_DIMENSIONS]
    timed += [d for d in _where_dimensions(filters) if d.name in TIME_DIMENSIONS]
    if not timed and not (filters.since or filters.until):
        return True
    return _whole_hours(con, timed, filters)


def _installed(con: duckdb.DuckDBPyConnection) -> bool:
    if is_spark(con):  # the rollup is kept with DuckDB's priced cache only
        return False
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND temporary", [ROLLUP_VIEW]
    ).fetchone()
    return bool(found and found[0])


def _where_dimensions(filters: Filters) -> list[Dimension]:
    return [dimension(name, filters.tz) for name, _ in filters.where]


def _whole_hours(con: duckdb.DuckDBPyConnection, timed: list[Dimension], filters: Filters) -> bool:
    """Every hour of the rollup lies in one time bucket and on one side of each bound: the
    bucket and the bounds agree at its first and last instant, and the local clock runs the
    whole hour without a jump (no offset change inside it)."""
    bounds, params = where_clause(Filters(filters.since, filters.until, (), filters.tz))
    exprs = [f"{local_time(filters.tz)} AS lt", f"({bounds}) AS kept"]
    exprs += [f"{d.sql} AS k{i}" for i, d in enumerate(timed)]
    differs = ["last.lt - first.lt <> INTERVAL 1 HOUR - INTERVAL 1 MICROSECOND",
               "first.kept IS DISTINCT FROM last.kept"]  # fmt: skip
    differs += [f"first.k{i} IS DISTINCT FROM last.k{i}" for i in range(len(timed))]
    sql = HOUR_EDGES_SQL.format(exprs=", ".join(exprs), differs=" OR ".join(differs))
    split = con.execute(sql, params + params).fetchone()
    return bool(split is not None and split[0] == 0)
