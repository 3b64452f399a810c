"""Batch APIs (SPEC §8, batch): eligible requests not already batched, re-priced at batch rates
(stacking with cache rates where the table says so; regional uplift still applied last)."""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension
from costops.analysis.simulate.engine import AFTER, BEFORE, compare, price, select_requests

ELIGIBLE = (
    "(feature IN (SELECT feature FROM _sim_batch_features) "
    "AND NOT (batch OR lower(COALESCE(service_tier, '')) = 'batch'))"
)


def scenario_sql(source: str, flags_only: bool = False) -> str:
    overrides = {} if flags_only else {
        "batch": f"CASE WHEN {ELIGIBLE} THEN true ELSE batch END",
        "service_tier": f"CASE WHEN {ELIGIBLE} THEN 'batch' ELSE service_tier END",
    }  # fmt: skip
    return "(" + select_requests(source, overrides, f"{ELIGIBLE} AS sim_eligible") + ")"


def set_features(con: duckdb.DuckDBPyConnection, features: list[str]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _sim_batch_features (feature VARCHAR)")
    if features:
        con.executemany("INSERT INTO _sim_batch_features VALUES (?)", [(f,) for f in features])


BEFORE_EXTRAS = """
    sum(CASE WHEN p.sim_eligible THEN p.cost * p.sim_weight ELSE 0 END) AS eligible_cost,
    sum(CASE WHEN p.sim_eligible THEN 1 ELSE 0 END) AS eligible_requests
"""


def simulate_batch(
    con: duckdb.DuckDBPyConnection, source: str, dims: list[Dimension], features: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    set_features(con, features)
    price(con, scenario_sql(source, flags_only=True), BEFORE)
    price(con, scenario_sql(source), AFTER)
    totals, rows = compare(con, dims, before_extras=BEFORE_EXTRAS)
    for row in [totals, *rows]:
        base = row.get("baseline_cost")
        row["eligible_share"] = row["eligible_cost"] / base if base else None
    assumptions = {
        "eligible": f"features {', '.join(features)}, requests not already batched",
        "window": "batch jobs finish within 24 hours: only work that can wait that long moves",
        "rates": "each model's batch rate from the pricing tables (stacking with cache rates "
        "where the table says so); regional uplift still applies; a model with no batch rate "
        "saves nothing",
    }
    return totals, rows, assumptions
