"""Run a scenario against its baseline and compare the two, per group and in total.

A lever reads *priced* requests (a Source: the stored ones, filtered, or what the previous lever
of a plan left), so the baseline is the price already computed, never a second pricing. Where a
lever changes only token counts (caching, output), the rates do not change — no join of the
pricing SQL depends on how the input splits into classes or on the output — so the scenario's
cost is cost.py's own costed stages applied to the new tokens and the unit prices each request
already carries (`with_cost`): the same formula, the same floating-point operations, the same
bits as pricing the scenario from scratch. Where the rates change (batch, a cheaper model), the
requests that change go through the full pricing SQL (`priced_select`), and only those.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from costops.analysis.filters import Dimension, Filters, grouping, where_clause
from costops.analysis.session import fetch_dicts
from costops.engine import columns, is_spark, quote, select_list
from costops.rates.cost import PRICED_SELECT_SQL, priced_select
from costops.store.migrations import REQUEST_COLUMNS

# Every scenario row carries a weight: 1 for a request that happens, a probability for one that
# happens only sometimes (an escalation at an assumed rate).
WEIGHT = "sim_weight"
BEFORE, AFTER = "_sim_before", "_sim_after"

# The price a Source carries beside each request: its cost (sim_cost, sim_cost_output: named
# apart from the cost columns the costed stages add) and what re-costing new tokens needs.
UNIT_PRICES = (
    "unit_input", "unit_cache_read", "unit_cache_write_5m", "unit_cache_write_1h",
    "unit_output", "unit_reasoning", "unit_request",
)  # fmt: skip
RATES = ("r_input", "r_cache_read", "r_cache_write_5m", "r_cache_write_1h")
PRICE_COLUMNS = {
    "sim_cost": "cost",
    "sim_cost_output": "cost_output",
    **{c: c for c in (*UNIT_PRICES, *RATES, "model_key", "price_effective_from")},
}
SOURCE_COLUMNS = (*REQUEST_COLUMNS, WEIGHT, *PRICE_COLUMNS)


@dataclass(frozen=True)
class Source:
    """Priced requests a lever starts from: a relation with SOURCE_COLUMNS (a table name or a
    parenthesised query) and the parameters its SQL binds."""

    sql: str
    params: list[object] = field(default_factory=list)


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
    # beside a plan's waterfall, not stacked on it: the same traffic served another way
    alternatives: list[dict[str, Any]] = field(default_factory=list)


def empty_simulation(
    name: str, group_by: list[str], filters: Filters, assumptions: dict[str, Any] | None = None
) -> Simulation:
    """What a simulation of no requests says: nothing spent, nothing saved (0, not null, which
    would mean unpriced), no ratio to show."""
    totals = {"baseline_cost": 0.0, "simulated_cost": 0.0, "savings": 0.0, "savings_pct": None}
    return Simulation(name, group_by, filters, assumptions or {}, totals, [])


def load_input(filters: Filters) -> Source:
    """The filtered stored requests with their stored prices, as the first lever's input."""
    where, params = where_clause(filters)
    return Source(f"({as_source('priced_requests p', weight='1.0')} WHERE {where})", params)


def as_source(priced: str, weight: str = WEIGHT, extra: str = "") -> str:
    """SELECT SOURCE_COLUMNS and `extra` columns from a priced relation (the pricing SQL's
    columns and a weight)."""
    prices = [f"{column} AS {name}" for name, column in PRICE_COLUMNS.items()]
    tail = f", {extra}" if extra else ""
    return (
        f"SELECT {', '.join(REQUEST_COLUMNS)}, {weight} AS {WEIGHT}, {', '.join(prices)}{tail} "
        f"FROM {priced}"
    )


def select_requests(
    source: str, overrides: dict[str, str], weight: str = WEIGHT, extra: str = ""
) -> str:
    """SELECT the request columns of `source` (some replaced by expressions), the weight and
    `extra` columns: a scenario's requests, to be priced from scratch."""
    columns = [f"{overrides[c]} AS {c}" if c in overrides else c for c in REQUEST_COLUMNS]
    tail = f", {extra}" if extra else ""
    return f"SELECT {', '.join(columns)}, {weight} AS {WEIGHT}{tail} FROM {source}"


def repriced(
    source: str,
    overrides: dict[str, str],
    weight: str = WEIGHT,
    extra: dict[str, str] | None = None,
) -> str:
    """`source`'s requests with `overrides`, priced from scratch by the pricing SQL, as a
    Source relation with `extra` columns (name -> expression over `source`)."""
    extra = extra or {}
    expressions = ", ".join(f"{expression} AS {name}" for name, expression in extra.items())
    requests = "(" + select_requests(source, overrides, weight, expressions) + ")"
    priced = "(" + priced_select(requests) + ")"
    return "(" + as_source(priced, extra=", ".join(extra)) + ")"


def _cost_stages() -> str:
    """cost.py's costed and effective stages (the cost formula), from its pricing SQL."""
    start = PRICED_SELECT_SQL.find("costed AS (")
    end = PRICED_SELECT_SQL.rfind("\nSELECT ")
    if start < 0 or end < start or "effective AS (" not in PRICED_SELECT_SQL[start:end]:
        raise RuntimeError("costops.rates.cost: no costed/effective stages to cost scenarios with")
    return PRICED_SELECT_SQL[start:end]


COST_STAGES = _cost_stages()
# What the costed and effective stages add (and `input`, the base rate, which only their
# priced flag reads); a relation given to with_cost has none of these columns.
COST_OUTPUTS = (
    "cost_input", "cost_cache_read", "cost_cache_write", "cost_output", "cost", "priced",
)  # fmt: skip
UNCACHED_SQL = "input_tokens - cache_read_tokens - cache_write_5m_tokens - cache_write_1h_tokens"


def with_cost(
    con: duckdb.DuckDBPyConnection,
    source: str,
    params: list[object],
    tokens: dict[str, str],
    name: str,
) -> str:
    """`source` (a relation with the token columns and UNIT_PRICES, binding `params`) plus
    `name` and `name`_output: each row's cost and output cost with `tokens` (column ->
    expression over the row) in place of its own, by cost.py's costed stages. The token
    columns keep their values."""
    kept = columns(con, source, params)
    moved = [f"{tokens[c]} AS {quote(c)}" if c in tokens else quote(c) for c in kept]
    moved += [f"{column} AS _sim_saved_{column}" for column in tokens]
    restored = [f"_sim_saved_{c} AS {quote(c)}" if c in tokens else quote(c) for c in kept]
    return f"""(
    WITH unit_priced AS (
        SELECT *, {UNCACHED_SQL} AS uncached_input_tokens, CAST(NULL AS DOUBLE) AS input
        FROM (SELECT {", ".join(moved)} FROM {source} AS _sim_moved) AS _sim_moved
    ),
    {COST_STAGES}
    SELECT {", ".join(restored)}, cost AS {name}, cost_output AS {name}_output
    FROM effective
    )"""


def keyed(dims: list[Dimension]) -> tuple[str, list[Dimension]]:
    """The dimensions' expressions over a Source `p` as columns (_sim_d0, ...) to keep in a
    lever's table, and the dimensions over those columns."""
    select = "".join(f"{d.sql} AS _sim_d{i}, " for i, d in enumerate(dims))
    return select, [Dimension(d.name, f"p._sim_d{i}") for i, d in enumerate(dims)]


def compare(
    con: duckdb.DuckDBPyConnection,
    dims: list[Dimension],
    extras: str = "",
    before_extras: str = "",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Totals and per-group rows from the baseline (BEFORE) and scenario (AFTER) relations,
    each with cost and weight columns. `extras` aggregate the scenario rows, `before_extras`
    the baseline rows (alias p)."""
    totals = fetch_dicts(con, _compare_sql(con, [], extras, before_extras))[0]
    rows = fetch_dicts(con, _compare_sql(con, dims, extras, before_extras)) if dims else []
    return totals, rows


def _compare_sql(
    con: duckdb.DuckDBPyConnection, dims: list[Dimension], extras: str, before_extras: str
) -> str:
    names = [d.name for d in dims]
    g = grouping(dims)
    keys, group = g.keys, g.group_by
    tail = f", {extras}" if extras else ""
    before_tail = f", {before_extras}" if before_extras else ""
    join = " AND ".join(f'b."{n}" IS NOT DISTINCT FROM a."{n}"' for n in names) or "TRUE"
    picked = "".join(f'COALESCE(b."{n}", a."{n}") AS "{n}", ' for n in names)
    summed = f"SELECT {keys}decimal_sum(p.cost * p.{WEIGHT})"
    b_sql = f"{summed} AS baseline{before_tail} FROM {BEFORE} p {group}"
    a_sql = f"{summed} AS simulated{tail} FROM {AFTER} p {group}"
    rest_b = _rest(con, b_sql, "b", [*names, "baseline"])
    rest_a = _rest(con, a_sql, "a", [*names, "simulated"])
    order = g.order
    return f"""
    WITH b AS ({b_sql}),
         a AS ({a_sql})
    SELECT {picked}CAST(b.baseline AS DOUBLE) AS baseline_cost{rest_b},
        CAST(a.simulated AS DOUBLE) AS simulated_cost{rest_a},
        -- exact: equal costs save exactly 0
        CAST(b.baseline - a.simulated AS DOUBLE) AS savings,
        CAST(b.baseline - a.simulated AS DOUBLE) / NULLIF(CAST(b.baseline AS DOUBLE), 0)
            AS savings_pct
    FROM b FULL OUTER JOIN a ON {join}
    ORDER BY b.baseline DESC NULLS LAST{order}
    """


def _rest(con: duckdb.DuckDBPyConnection, sql: str, alias: str, shown: list[str]) -> str:
    """`, alias.column` for each column of `sql` but those shown already."""
    listed = select_list(con, f"({sql})", exclude=shown, prefix=f"{alias}.")
    return f", {listed}" if listed else ""


@contextmanager
def joins_as_written(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Hash joins built on the side the SQL puts right: the small table a lever looks requests
    up in (model names, units, prices). DuckDB estimates the priced_requests view (a positional
    join) at 0 rows, so left to itself it hashes the million requests to probe them with a few
    model names: slower, and pinned memory that has to fit in memory_limit."""
    if is_spark(con):  # Spark sizes its joins from the tables' statistics
        yield
        return
    row = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    before = str(row[0]) if row else ""
    names = ", ".join(filter(None, [before, "build_side_probe_side"]))
    con.execute(f"SET disabled_optimizers = '{names}'")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = '{before}'")


def views(con: duckdb.DuckDBPyConnection, before: str, after: str) -> None:
    """Point BEFORE and AFTER (what compare reads) at a lever's baseline and scenario."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW {BEFORE} AS {before}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {AFTER} AS {after}")
