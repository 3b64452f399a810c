"""Run a scenario against its baseline and compare the two, per group and in total."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from costops.analysis.filters import Dimension, Filters, grouping, where_clause
from costops.analysis.session import fetch_dicts
from costops.rates.cost import RAW_RATE_COLUMNS, priced_select
from costops.store.migrations import REQUEST_COLUMNS

# Every scenario row carries a weight: 1 for a request that happens, a probability for one that
# happens only sometimes (an escalation at an assumed rate).
WEIGHT = "sim_weight"
BEFORE, AFTER = "_sim_before", "_sim_after"


@dataclass
class Simulation:
    """Rows and totals carry baseline_cost, simulated_cost, savings, savings_pct and the
    simulation's own keys; assumptions say what the numbers rest on."""

    name: str
    group_by: list[str]
    filters: Filters
    assumptions: dict[str, Any]
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


def empty_simulation(
    name: str, group_by: list[str], filters: Filters, assumptions: dict[str, Any] | None = None
) -> Simulation:
    """What a simulation of no requests says: nothing spent, nothing saved (0, not null, which
    would mean unpriced), no ratio to show."""
    totals = {"baseline_cost": 0.0, "simulated_cost": 0.0, "savings": 0.0, "savings_pct": None}
    return Simulation(name, group_by, filters, assumptions or {}, totals, [])


def select_requests(
    source: str,
    overrides: dict[str, str] | None = None,
    extra: str = "",
    weight: str = WEIGHT,
) -> str:
    """SELECT every request column of `source` (some replaced by expressions), the weight, and
    `extra` columns."""
    overrides = overrides or {}
    columns = [f"{overrides[c]} AS {c}" if c in overrides else c for c in REQUEST_COLUMNS]
    tail = f", {extra}" if extra else ""
    return f"SELECT {', '.join(columns)}, {weight} AS {WEIGHT}{tail} FROM {source}"


def load_input(con: duckdb.DuckDBPyConnection, filters: Filters, table: str = "_sim_input") -> str:
    """The filtered stored requests, as the first scenario's input."""
    where, params = where_clause(filters)
    select = select_requests("priced_requests p", weight="1.0")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select} WHERE {where}", params)
    return table


def price(con: duckdb.DuckDBPyConnection, source: str, into: str) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {into} AS "
        f"SELECT * EXCLUDE ({RAW_RATE_COLUMNS}) FROM ({priced_select(source)})"
    )


def compare(
    con: duckdb.DuckDBPyConnection,
    dims: list[Dimension],
    extras: str = "",
    before_extras: str = "",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Totals and per-group rows from the priced baseline (BEFORE) and scenario (AFTER) tables.
    `extras` aggregate the scenario rows, `before_extras` the baseline rows (alias p)."""
    totals = fetch_dicts(con, _compare_sql([], extras, before_extras))[0]
    rows = fetch_dicts(con, _compare_sql(dims, extras, before_extras)) if dims else []
    return totals, rows


def _compare_sql(dims: list[Dimension], extras: str, before_extras: str) -> str:
    names = [d.name for d in dims]
    g = grouping(dims)
    keys, group = g.keys, g.group_by
    tail = f", {extras}" if extras else ""
    before_tail = f", {before_extras}" if before_extras else ""
    join = " AND ".join(f'b."{n}" IS NOT DISTINCT FROM a."{n}"' for n in names) or "TRUE"
    picked = "".join(f'COALESCE(b."{n}", a."{n}") AS "{n}", ' for n in names)
    quoted = ", ".join(f'"{n}"' for n in names)
    rest_a = f"a.* EXCLUDE ({quoted}{', ' if names else ''}simulated)"
    rest_b = f"b.* EXCLUDE ({quoted}{', ' if names else ''}baseline)"
    order = g.order
    return f"""
    WITH b AS (SELECT {keys}decimal_sum(p.cost * p.{WEIGHT}) AS baseline{before_tail}
               FROM {BEFORE} p {group}),
         a AS (SELECT {keys}decimal_sum(p.cost * p.{WEIGHT}) AS simulated{tail}
               FROM {AFTER} p {group})
    SELECT {picked}CAST(b.baseline AS DOUBLE) AS baseline_cost, {rest_b},
        CAST(a.simulated AS DOUBLE) AS simulated_cost, {rest_a},
        -- exact: equal costs save exactly 0
        CAST(b.baseline - a.simulated AS DOUBLE) AS savings,
        CAST(b.baseline - a.simulated AS DOUBLE) / NULLIF(CAST(b.baseline AS DOUBLE), 0)
            AS savings_pct
    FROM b FULL OUTER JOIN a ON {join}
    ORDER BY b.baseline DESC NULLS LAST{order}
    """
