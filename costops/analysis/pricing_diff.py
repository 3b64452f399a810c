"""What a pricing-table change would do to the cost of the stored requests, before it is merged.

Both sets of tables price every stored request through the same live pricing SQL (not the
priced cache); the rows are the groups whose cost changes, biggest change first.
"""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension
from costops.analysis.session import fetch_dicts
from costops.rates.cost import install_pricing
from costops.rates.tables import PricingTables

SNAPSHOT_SQL = """
CREATE OR REPLACE TEMP TABLE {into} AS
SELECT request_id, model_key, cost FROM priced_requests
"""

DIFF_SQL = """
WITH joined AS (
    SELECT {keys}, o.cost AS old_cost, n.cost AS new_cost,
        o.model_key AS old_key, n.model_key AS new_key
    FROM requests p
    JOIN _diff_old o ON o.request_id = p.request_id
    JOIN _diff_new n ON n.request_id = p.request_id
),
grouped AS (
    SELECT {names}count(*) AS requests,
        sum(old_cost) AS old_cost, sum(new_cost) AS new_cost,
        sum(CASE WHEN old_cost IS DISTINCT FROM new_cost THEN 1 ELSE 0 END) AS changed_requests,
        sum(CASE WHEN old_cost IS NOT NULL AND new_cost IS NULL THEN 1 ELSE 0 END)
            AS newly_unpriced,
        sum(CASE WHEN old_cost IS NULL AND new_cost IS NOT NULL THEN 1 ELSE 0 END)
            AS newly_priced,
        string_agg(DISTINCT CASE WHEN old_key IS DISTINCT FROM new_key
            THEN COALESCE(old_key, 'none') || ' -> ' || COALESCE(new_key, 'none') END, '; ')
            AS rematched
    FROM joined {group}
)
SELECT *, new_cost - old_cost AS change,
    (new_cost - old_cost) / NULLIF(old_cost, 0) AS change_pct
FROM grouped
{having}
ORDER BY abs(COALESCE(new_cost, 0) - COALESCE(old_cost, 0)) DESC, changed_requests DESC
    {order}
"""


def pricing_diff(
    con: duckdb.DuckDBPyConnection,
    old: PricingTables,
    new: PricingTables,
    dims: list[Dimension],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Totals and the groups (by `dims`) whose cost differs between the two tables."""
    for tables, into in ((old, "_diff_old"), (new, "_diff_new")):
        install_pricing(con, tables)
        con.execute(SNAPSHOT_SQL.format(into=into))
    totals = fetch_dicts(con, _sql([], having=""))[0]
    rows = fetch_dicts(con, _sql(dims, having="WHERE changed_requests > 0")) if dims else []
    return totals, rows


def _sql(dims: list[Dimension], having: str) -> str:
    names = ", ".join(f'"{d.name}"' for d in dims)
    return DIFF_SQL.format(
        keys=", ".join([f'{d.sql} AS "{d.name}"' for d in dims] or ["NULL AS _all"]),
        names=f"{names}, " if names else "",
        group=f"GROUP BY {names}" if names else "",
        having=having,
        order="".join(f', "{d.name}"' for d in dims),
    )
