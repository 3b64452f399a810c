"""Batch APIs (SPEC §8, batch): eligible requests not already batched, re-priced at batch rates
(stacking with cache rates where the table says so; regional uplift still applied last).

One pass: every request keeps its stored price except the eligible ones, which alone go through
the pricing SQL with the batch flag set (batch changes the rates, so they are priced afresh)."""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension
from costops.analysis.simulate.engine import (
    SOURCE_COLUMNS,
    Source,
    compare,
    keyed,
    repriced,
    views,
)

# Batch jobs complete within 24 hours: a feature whose latency SLO is shorter cannot wait for one.
WINDOW_MS = 24 * 60 * 60 * 1000
TABLE = "_sim_batch"

# A semantic cache's embedding call (a plan's earlier step) answers a live query: never batched.
ELIGIBLE = (
    "(feature IN (SELECT feature FROM _sim_batch_features) "
    "AND NOT (batch OR lower(COALESCE(service_tier, '')) = 'batch') "
    "AND request_id NOT LIKE '%#embedding')"
)
# Each request once with its stored price, on both sides unless it is eligible (then the
# baseline's only), and each eligible request batched, on the scenario's side.
ROWS_SQL = f"""
SELECT {", ".join(SOURCE_COLUMNS)}, {ELIGIBLE} AS sim_eligible,
    CASE WHEN {ELIGIBLE} THEN 'before' ELSE 'both' END AS sim_side
FROM {{source}} s
UNION ALL
SELECT {", ".join(SOURCE_COLUMNS)}, true AS sim_eligible, 'after' AS sim_side
FROM {{batched}}
"""
NARROW = "sim_side, sim_eligible, sim_cost, sim_weight"


def build(
    con: duckdb.DuckDBPyConnection, source: Source, dims: list[Dimension], keep: bool
) -> None:
    select, _ = keyed(dims)
    eligible = f"(SELECT * FROM {source.sql} s WHERE {ELIGIBLE})"
    batched = repriced(eligible, {"batch": "true", "service_tier": "'batch'"})
    rows = ROWS_SQL.replace("{source}", source.sql).replace("{batched}", batched)
    columns = f"{', '.join(SOURCE_COLUMNS)}, sim_side, sim_eligible" if keep else NARROW
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT {select}{columns} FROM ({rows}) p",
        source.params + source.params,
    )


def next_source() -> str:
    """The scenario as a plan's next Source."""
    return f"SELECT {', '.join(SOURCE_COLUMNS)} FROM {TABLE} WHERE sim_side <> 'before'"


def set_features(con: duckdb.DuckDBPyConnection, features: list[str]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _sim_batch_features (feature VARCHAR)")
    if features:
        con.executemany("INSERT INTO _sim_batch_features VALUES (?)", [(f,) for f in features])


BEFORE_EXTRAS = """
    money_sum(CASE WHEN p.sim_eligible THEN p.cost * p.sim_weight ELSE 0 END) AS eligible_cost,
    sum(CASE WHEN p.sim_eligible THEN 1 ELSE 0 END) AS eligible_requests
"""


def too_urgent(features: list[str], slos: dict[str, float]) -> dict[str, float]:
    """The features whose latency SLO (ms) is under the batch window, with that SLO."""
    return {name: slos[name] for name in features if slos.get(name, WINDOW_MS) < WINDOW_MS}


def simulate_batch(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    features: list[str],
    slos: dict[str, float] | None = None,
    keep: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[str]]:
    """Re-price the named features at batch rates, except those whose latency SLO (`slos`, ms
    per feature) is under the batch window: they are excluded, and the warnings say so. With
    `keep`, the scenario keeps every column (see next_source)."""
    excluded = too_urgent(features, slos or {})
    features = [name for name in features if name not in excluded]
    set_features(con, features)
    build(con, source, dims, keep)
    views(
        con,
        f"SELECT *, sim_cost AS cost FROM {TABLE} WHERE sim_side <> 'after'",
        f"SELECT *, sim_cost AS cost FROM {TABLE} WHERE sim_side <> 'before'",
    )
    _, narrow = keyed(dims)
    totals, rows = compare(con, narrow, before_extras=BEFORE_EXTRAS)
    for row in [totals, *rows]:
        base = row.get("baseline_cost")
        row["eligible_share"] = row["eligible_cost"] / base if base else None
    assumptions = {
        "eligible": f"features {', '.join(features)}, requests not already batched"
        if features
        else "none: every named feature's latency SLO is under the batch window",
        "window": "batch jobs finish within 24 hours: only work that can wait that long moves",
        "rates": "each model's batch rate from the pricing tables (stacking with cache rates "
        "where the table says so); regional uplift still applies; a model with no batch rate "
        "saves nothing",
    }
    warnings = []
    if excluded:
        slow = ", ".join(f"{name} ({slo:,} ms)" for name, slo in excluded.items())
        assumptions["excluded"] = f"{slow}: latency SLO under the 24-hour batch window"
        warnings.append(
            f"not batched: {slow}: a latency SLO under the 24-hour batch window "
            "(latency_slo_ms in costops.yaml)"
        )
    return totals, rows, assumptions, warnings
