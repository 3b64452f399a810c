"""What a pricing-table change would do to the cost of the stored requests, before it is merged.

Both sets of tables price every stored request through the same live pricing SQL (not the
priced cache); the rows are the groups whose cost changes, biggest change first.
"""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension, grouping
from costops.analysis.session import fetch_dicts
from costops.rates.cost import install_pricing
from costops.rates.tables import PricingTables

OLD_COSTS_SQL = """
CREATE OR REPLACE TEMP TABLE _diff_old AS
SELECT request_id, model_key, cost FROM priced_requests
"""

# p: every stored request priced by the new tables (the live view); o: its cost by the old ones.
DIFF_SQL = """
WITH grouped AS (
    SELECT {keys}count(*) AS requests, decimal_sum(o.cost) AS old_exact,
        decimal_sum(p.cost) AS new_exact,
        count(*) FILTER (WHERE o.cost IS DISTINCT FROM p.cost) AS changed_requests,
        count(*) FILTER (WHERE o.cost IS NOT NULL AND p.cost IS NULL) AS newly_unpriced,
        count(*) FILTER (WHERE o.cost IS NULL AND p.cost IS NOT NULL) AS newly_priced,
        string_agg(DISTINCT CASE WHEN o.model_key IS DISTINCT FROM p.model_key
            THEN COALESCE(o.model_key, 'none') || ' -> ' || COALESCE(p.model_key, 'none') END,
            '; ') AS rematched
    FROM priced_requests p JOIN _diff_old o ON o.request_id = p.request_id
    {group_by}
)
-- exact: the change is the difference of the exact sums
SELECT * EXCLUDE (old_exact, new_exact), CAST(old_exact AS DOUBLE) AS old_cost,
    CAST(new_exact AS DOUBLE) AS new_cost, CAST(new_exact - old_exact AS DOUBLE) AS change,
    CAST(new_exact - old_exact AS DOUBLE) / NULLIF(CAST(old_exact AS DOUBLE), 0) AS change_pct
FROM grouped
{having}
ORDER BY abs(COALESCE(new_exact, 0) - COALESCE(old_exact, 0)) DESC, changed_requests DESC {order}
"""


def pricing_diff(
    con: duckdb.DuckDBPyConnection,
    old: PricingTables,
    new: PricingTables,
    dims: list[Dimension],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Totals and the groups (by `dims`) whose cost differs between the two tables."""
    install_pricing(con, old)
    con.execute(OLD_COSTS_SQL)
    install_pricing(con, new)
    totals = fetch_dicts(con, _sql([], having=""))[0]
    if not totals["requests"]:  # nothing stored: $0 either way (null would mean unpriced)
        totals.update(old_cost=0.0, new_cost=0.0, change=0.0)
    rows = fetch_dicts(con, _sql(dims, having="WHERE changed_requests > 0")) if dims else []
    return totals, rows


def _sql(dims: list[Dimension], having: str) -> str:
    g = grouping(dims)
    return DIFF_SQL.format(keys=g.keys, group_by=g.group_by, order=g.order, having=having)
