"""Tighter outputs (SPEC §8, output): the output-token distribution against max_tokens,
truncation, and what a trimmed schema (--trim PCT) or a max_tokens cap (--cap N) would cost."""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension
from costops.analysis.simulate.engine import AFTER, BEFORE, compare, price, select_requests
from costops.errors import UsageError

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


def scenario_sql(source: str, trim_pct: float, cap: int | None) -> str:
    trimmed = _trimmed(trim_pct)
    output = f"LEAST({trimmed}, {cap})" if cap is not None else trimmed
    overrides = {
        "output_tokens": output,
        "reasoning_tokens": f"LEAST(reasoning_tokens, {output})",
    }
    return "(" + select_requests(source, overrides) + ")"


def simulate_output(
    con: duckdb.DuckDBPyConnection,
    source: str,
    dims: list[Dimension],
    trim_pct: float = 0.0,
    cap: int | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    if not 0 <= trim_pct < 100:
        raise UsageError(f"--trim {trim_pct}: expected a percentage from 0 to 99")
    if cap is not None and cap < 1:
        raise UsageError(f"--cap {cap}: expected a positive number of tokens")
    price(con, source, BEFORE)
    price(con, scenario_sql(source, trim_pct, cap), AFTER)
    extras = BEFORE_EXTRAS.replace("$cap", str(cap if cap is not None else 2**62)).replace(
        "$trimmed", _trimmed(trim_pct, "p.")
    )
    totals, rows = compare(con, dims, before_extras=extras)
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
