"""Our cost against the cost the logs reported (`logged_cost`: LiteLLM spend, OpenLIT
gen_ai.usage.cost, Langfuse costDetails), with the likely cause of each disagreement.

A request disagrees when |computed - logged| exceeds the tolerance (relative to the logged cost,
with a floor of a millionth of a dollar). A cause is named when the logged cost equals, within
the same tolerance, what a known pricing mistake would give for that request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from costops.analysis.filters import Dimension, Filters, grouping, where_clause
from costops.analysis.session import fetch_dicts
from costops.rates.cost import priced_select

FLOOR_USD = 1e-6

# What a request would cost under each known mistake (the rates are the ones in force).
_SCALE = "m_all * m_batch / 1e6"
_SCALE_CACHE = "m_all * m_batch_cache / 1e6"
_BASE_RATE_COST = f"""(
    {_SCALE} * (uncached_input_tokens * input
        + (output_tokens - reasoning_tokens) * output
        + reasoning_tokens * COALESCE(reasoning, output))
    + {_SCALE_CACHE} * (cache_read_tokens * COALESCE(cache_read, input)
        + cache_write_5m_tokens * COALESCE(cache_write_5m, input)
        + cache_write_1h_tokens * COALESCE(cache_write_1h, input)))"""
CAUSES = (
    ("cache reads also billed as input (counted twice)",
     f"cost + cache_read_tokens * r_input * {_SCALE}", "cache_read_tokens > 0"),
    ("cache tokens not counted", "cost - cost_cache_read - cost_cache_write",
     "cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > 0"),
    ("cache reads and writes billed at the input rate",
     f"cost - cost_cache_read - cost_cache_write + (cache_read_tokens + cache_write_5m_tokens "
     f"+ cache_write_1h_tokens) * r_input * {_SCALE_CACHE}",
     "cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > 0"),
    ("1-hour cache writes priced as 5-minute writes",
     f"cost - cache_write_1h_tokens * (r_cache_write_1h - r_cache_write_5m) * {_SCALE_CACHE}",
     "cache_write_1h_tokens > 0"),
    ("long-context tier missed (base rates applied)", _BASE_RATE_COST, "long_context"),
    ("batch discount not applied", "cost / NULLIF(batch_multiplier, 0)",
     "is_batch AND batch_multiplier IS NOT NULL"),
    ("batch request priced at $0", "0.0", "is_batch"),
)  # fmt: skip


def _close(candidate: str) -> str:
    return f"abs(logged_cost - ({candidate})) <= greatest({FLOOR_USD}, $tol * abs(logged_cost))"


CAUSE_SQL = "CASE " + " ".join(
    f"WHEN ({applies}) AND {_close(candidate)} THEN '{name}'"
    for name, candidate, applies in CAUSES
) + " ELSE 'unexplained' END"  # fmt: skip

# The live pricing (not the priced cache, which leaves out the raw rates the causes need), over
# the requests that logged a cost.
LOGGED_PRICED = priced_select("(SELECT * FROM requests WHERE logged_cost IS NOT NULL)")

CHECKED_SQL = f"""
CREATE OR REPLACE TEMP TABLE _reconciled AS
WITH compared AS (
    SELECT p.*, p.cost - p.logged_cost AS difference,
        abs(p.cost - p.logged_cost) > greatest({FLOOR_USD}, $tol * abs(p.logged_cost)) AS differs
    FROM ({LOGGED_PRICED}) p
    WHERE {{where}}
)
SELECT *, CASE WHEN differs AND cost IS NOT NULL THEN {CAUSE_SQL} END AS cause FROM compared
"""

GROUPS_SQL = """
WITH g AS (
    SELECT {keys}count(*) AS requests, money_sum(cost) AS computed_cost,
        money_sum(logged_cost) AS logged_cost, money_sum(difference) AS difference,
        sum(CASE WHEN differs THEN 1 ELSE 0 END) AS differing_requests,
        sum(CASE WHEN cost IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
        mode(cause) AS likely_cause
    FROM _reconciled p {group_by}
)
SELECT *, difference / NULLIF(logged_cost, 0) AS difference_pct FROM g
ORDER BY abs(COALESCE(difference, 0)) DESC, differing_requests DESC {order}
"""

TOP_SQL = """
SELECT request_id, strftime(ts, '%Y-%m-%d %H:%M:%S') AS ts, feature, model, cost AS computed_cost,
    logged_cost, difference, difference / NULLIF(logged_cost, 0) AS difference_pct, cause
FROM _reconciled WHERE differs AND cost IS NOT NULL
ORDER BY abs(difference) DESC, request_id
LIMIT ?
"""


@dataclass
class Reconciliation:
    group_by: list[str]
    tolerance: float
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
    top_requests: list[dict[str, Any]]


def reconcile(
    con: duckdb.DuckDBPyConnection,
    dims: list[Dimension],
    filters: Filters,
    tolerance: float,
    top: int,
) -> Reconciliation:
    where, params = where_clause(filters)
    # the tolerance is a float the CLI parsed, written as a literal; the filters stay bound
    sql = CHECKED_SQL.replace("{where}", where).replace("$tol", repr(float(tolerance)))
    con.execute(sql, params)
    totals = fetch_dicts(con, _groups_sql([]))[0]
    if not totals["requests"]:  # nothing in scope: sums are 0 (null would mean unpriced)
        zero = ("computed_cost", "logged_cost", "difference", "differing_requests",
                "unpriced_requests")  # fmt: skip
        totals.update({k: 0.0 if k.endswith(("cost", "difference")) else 0 for k in zero})
    rows = fetch_dicts(con, _groups_sql(dims)) if dims else []
    top_requests = fetch_dicts(con, TOP_SQL, [top])
    return Reconciliation([d.name for d in dims], tolerance, totals, rows, top_requests)


def _groups_sql(dims: list[Dimension]) -> str:
    g = grouping(dims)
    return GROUPS_SQL.format(keys=g.keys, group_by=g.group_by, order=g.order)
