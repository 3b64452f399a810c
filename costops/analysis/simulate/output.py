"""Tighter outputs (SPEC §8, output): the output-token distribution against max_tokens,
truncation, and what a trimmed schema (--trim PCT) or a max_tokens cap (--cap N) would cost.

One pass: each request's cost with the shorter output is cost.py's costed stages on its unit
prices (the output changes no rate)."""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension
from costops.analysis.simulate.engine import (
    PRICE_COLUMNS,
    WEIGHT,
    Source,
    compare,
    keyed,
    views,
    with_cost,
)
from costops.errors import UsageError
from costops.store.migrations import REQUEST_COLUMNS

TABLE = "_sim_output"
NARROW = (
    "sim_weight, sim_cost, sim_cost_output, sim_output_cost, output_tokens, reasoning_tokens, "
    "max_tokens, finish_reason"
)

BEFORE_EXTRAS = """
    quantile_cont(p.output_tokens, 0.5) AS p50_output_tokens,
    quantile_cont(p.output_tokens, 0.95) AS p95_output_tokens,
    quantile_cont(p.output_tokens, 0.99) AS p99_output_tokens,
    max(p.output_tokens) AS max_output_tokens,
    mode(p.max_tokens) AS typical_max_tokens,
    avg(CASE WHEN lower(p.finish_reason) IN ('length', 'max_tokens') THEN 1.0 ELSE 0.0 END)
        AS truncation_rate,
    money_sum(p.cost_output * p.sim_weight)
        / NULLIF(money_sum(p.cost * p.sim_weight), 0) AS output_share,
    sum(CASE WHEN $trimmed > $cap THEN 1 ELSE 0 END) AS outputs_cut
"""


def _trimmed(trim_pct: float, alias: str = "") -> str:
    visible = f"round(({alias}output_tokens - {alias}reasoning_tokens) * {1 - trim_pct / 100})"
    return f"CAST({alias}reasoning_tokens + {visible} AS BIGINT)"


def _tokens(trim_pct: float, cap: int | None) -> dict[str, str]:
    """The output token columns of the scenario."""
    trimmed = _trimmed(trim_pct)
    output = f"LEAST({trimmed}, {cap})" if cap is not None else trimmed
    return {"output_tokens": output, "reasoning_tokens": f"LEAST(reasoning_tokens, {output})"}


def build(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    tokens: dict[str, str],
    keep: bool,
) -> None:
    select, _ = keyed(dims)
    costed = with_cost(
        con, f"(SELECT * FROM {source.sql})", source.params, tokens, "sim_output_cost"
    )
    columns = "*" if keep else NARROW
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT {select}{columns} FROM {costed} p",
        source.params,
    )


def next_source(trim_pct: float, cap: int | None) -> str:
    """The scenario as a plan's next Source: the shorter outputs and their cost."""
    tokens = _tokens(trim_pct, cap)
    columns = [f"{tokens[c]} AS {c}" if c in tokens else c for c in REQUEST_COLUMNS]
    price = {"sim_cost": "sim_output_cost", "sim_cost_output": "sim_output_cost_output"}
    prices = [f"{price.get(c, c)} AS {c}" for c in PRICE_COLUMNS]
    return f"SELECT {', '.join([*columns, WEIGHT, *prices])} FROM {TABLE}"


def simulate_output(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    trim_pct: float = 0.0,
    cap: int | None = None,
    keep: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Compare `source` with its outputs trimmed and/or capped. With `keep`, the scenario
    keeps every column (see next_source)."""
    if not 0 <= trim_pct < 100:
        raise UsageError(f"--trim {trim_pct}: expected a percentage from 0 to 99")
    if cap is not None and cap < 1:
        raise UsageError(f"--cap {cap}: expected a positive number of tokens")
    build(con, source, dims, _tokens(trim_pct, cap), keep)
    views(
        con,
        f"SELECT *, sim_cost AS cost, sim_cost_output AS cost_output FROM {TABLE}",
        f"SELECT *, sim_output_cost AS cost FROM {TABLE}",
    )
    extras = BEFORE_EXTRAS.replace("$cap", str(cap if cap is not None else 2**62)).replace(
        "$trimmed", _trimmed(trim_pct, "p.")
    )
    _, narrow = keyed(dims)
    totals, rows = compare(con, narrow, before_extras=extras)
    if cap is None:
        for row in [totals, *rows]:
            row["outputs_cut"] = None
    assumptions = {
        "trim": f"visible output (output minus reasoning) {trim_pct:g} % shorter"
        if trim_pct
        else "none",
        "cap": f"max_tokens {cap}: longer outputs are cut to it (outputs_cut counts them; a "
        "cut answer may fail its eval)"
        if cap is not None
        else "none",
        "truncation": "finish_reason length / max_tokens",
    }
    return totals, rows, assumptions
