"""Which logged models the pricing tables price, and which they don't (never a silent $0)."""

from __future__ import annotations

import difflib
from typing import Any

import duckdb

from costops.analysis.session import fetch_dicts

# How a logged name met its entry: an exact name, a pattern (which could be wrong: check it), or
# another provider's table when the request names no provider that has one (a guess).
COVERAGE_SQL = """
WITH logged AS (
    SELECT provider, model, model_key AS priced_as,
        CASE WHEN model_key IS NULL THEN 'no table'
             WHEN sum(CASE WHEN cost IS NULL THEN 1 ELSE 0 END) > 0 THEN 'no price in force'
             ELSE 'priced' END AS status,
        count(*) AS requests,
        sum(CASE WHEN cost IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
        sum(CASE WHEN cost IS NULL THEN input_tokens + output_tokens ELSE 0 END)
            AS unpriced_tokens,
        strftime(min(ts), '%Y-%m-%d') AS first_seen,
        strftime(max(ts), '%Y-%m-%d') AS last_seen
    FROM priced_requests
    GROUP BY provider, model, model_key
)
SELECT l.provider, l.model, l.priced_as,
    CASE WHEN l.priced_as IS NULL THEN NULL
         WHEN mm.guess THEN 'guess'
         WHEN (mm.exact AND mm.model_key = l.priced_as) OR lower(l.model) = lower(pm.model_id)
             THEN 'exact'
         ELSE 'pattern' END AS match,
    l.status, l.requests, l.unpriced_requests, l.unpriced_tokens, l.first_seen, l.last_seen
FROM logged l
LEFT JOIN model_map mm ON mm.provider IS NOT DISTINCT FROM l.provider AND mm.model = l.model
LEFT JOIN price_models pm ON pm.model_key = l.priced_as
ORDER BY l.unpriced_requests DESC, l.requests DESC, l.provider, l.model
"""


def coverage_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """One row per logged (provider, model); an unpriced one carries the nearest table entry
    (by name, over the few distinct names: no loop over requests)."""
    rows = fetch_dicts(con, COVERAGE_SQL)
    names = dict(con.execute("SELECT lower(model_id), model_key FROM price_models").fetchall())
    for row in rows:
        row["suggestion"] = None
        if row["status"] == "no table":
            close = difflib.get_close_matches(str(row["model"]).lower(), names, n=1, cutoff=0.6)
            row["suggestion"] = names[close[0]] if close else None
    return rows
