"""Which logged models the pricing tables price, and which they don't (never a silent $0)."""

from __future__ import annotations

import difflib
from typing import Any

import duckdb

from costops.analysis.session import fetch_dicts

COVERAGE_SQL = """
SELECT provider, model, model_key AS priced_as,
    CASE WHEN model_key IS NULL THEN 'no table'
         WHEN sum(CASE WHEN cost IS NULL THEN 1 ELSE 0 END) > 0 THEN 'no price in force'
         ELSE 'priced' END AS status,
    count(*) AS requests,
    sum(CASE WHEN cost IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    sum(CASE WHEN cost IS NULL THEN input_tokens + output_tokens ELSE 0 END) AS unpriced_tokens,
    strftime(min(ts), '%Y-%m-%d') AS first_seen,
    strftime(max(ts), '%Y-%m-%d') AS last_seen
FROM priced_requests
GROUP BY provider, model, model_key
ORDER BY unpriced_requests DESC, requests DESC, provider, model
"""


# How a logged name met its entry: an exact name, a pattern (which could be wrong: check it), or
# another provider's table when the request names no provider that has one (a guess).
MATCH_KIND_SQL = """
SELECT mm.provider, mm.model,
       CASE WHEN mm.guess THEN 'guess'
            WHEN mm.exact OR lower(mm.model) = lower(pm.model_id) THEN 'exact'
            ELSE 'pattern' END
FROM model_map mm JOIN price_models pm ON pm.model_key = mm.model_key
"""


def coverage_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """One row per logged (provider, model); an unpriced one carries the nearest table entry
    (by name, over the few distinct names: no loop over requests)."""
    rows = fetch_dicts(con, COVERAGE_SQL)
    names = dict(con.execute("SELECT lower(model_id), model_key FROM price_models").fetchall())
    how = {(p, m): match for p, m, match in con.execute(MATCH_KIND_SQL).fetchall()}
    for row in rows:
        row["match"] = how.get((row["provider"], row["model"]))
        row["suggestion"] = None
        if row["status"] == "no table":
            close = difflib.get_close_matches(str(row["model"]).lower(), names, n=1, cutoff=0.6)
            row["suggestion"] = names[close[0]] if close else None
    return rows
