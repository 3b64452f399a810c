"""A model cascade or router (SPEC §8, cascade).

Every in-scope unit (a task or request that used --from) first runs its --from requests on the
cheaper --to model: same tokens, output x --output-ratio, priced at --to's rates. A unit
escalates when the cheaper model's shadow eval on it failed (measured), or with the assumed
--escalation-rate where no shadow eval exists. `cascade` mode: escalated units pay both calls;
`route` mode: a router sends each unit to one model, so escalated units pay only the original
(with shadow evals, the perfect-router bound). Without --from/--to, the pair comes from the
`cascade:` pairs in costops.yaml.
"""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension
from costops.analysis.simulate.engine import (
    SOURCE_COLUMNS,
    WEIGHT,
    Source,
    compare,
    keyed,
    repriced,
    views,
)
from costops.config import CascadePair, Config
from costops.engine import select_list
from costops.errors import UsageError
from costops.rates.cost import add_model_names

ESCALATION_WARNING = 0.30
TABLE = "_sim_cascade_rows"
_SCOPE = "(lower(c.model) = lower(k.from_model) OR mm.model_key = k.from_key)"

UNITS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _sim_units AS
WITH scoped AS (
    SELECT DISTINCT COALESCE(c.task_id, c.request_id) AS unit_id
    FROM {{source}} c CROSS JOIN _sim_cascade k
    LEFT JOIN model_map mm ON mm.model = c.model AND mm.provider IS NOT DISTINCT FROM c.provider
    WHERE {_SCOPE}
),
-- each unit's first request (in time, then by id): where the unit's verdict counts, once
firsts AS (
    SELECT COALESCE(c.task_id, c.request_id) AS unit_id,
        min(struct_pack(ts := c.ts, id := c.request_id)).id AS first_id
    FROM {{source}} c
    WHERE COALESCE(c.task_id, c.request_id) IN (SELECT unit_id FROM scoped)
    GROUP BY 1
),
latest AS (
    SELECT e.unit_id, e.passed, row_number() OVER (
        PARTITION BY e.unit_id, e.evaluator ORDER BY e.ts DESC NULLS LAST, e.run_id DESC,
        e.line_no DESC) AS pick
    FROM eval_targets e CROSS JOIN _sim_cascade k
    WHERE e.shadow AND (lower(e.model) = lower(k.to_model) OR e.eval_model_key = k.to_key)
),
shadow AS (SELECT unit_id, bool_and(passed) AS passed FROM latest WHERE pick = 1 GROUP BY unit_id)
SELECT s.unit_id, f.first_id, sh.unit_id IS NOT NULL AS measured, sh.passed AS shadow_passed,
    u.unit_id IS NOT NULL AS evaluated, COALESCE(u.success, false) AS success_before
FROM scoped s JOIN firsts f ON f.unit_id = s.unit_id
LEFT JOIN shadow sh ON sh.unit_id = s.unit_id
LEFT JOIN unit_status u ON u.unit_id = s.unit_id
"""

# Per unit: escalation (1/0 measured, else the assumed rate) and whether it passes afterwards
# (measured: the cheap answer passed, or it escalated to the original, which passed).
UNIT_OUTCOME = """
    CASE WHEN u.measured THEN CASE WHEN u.shadow_passed THEN 0.0 ELSE 1.0 END
         ELSE $assumed END AS sim_escalation,
    CASE WHEN u.measured THEN u.shadow_passed OR u.success_before ELSE u.success_before END
        AS sim_success_after
"""


# Every request of the source with its unit's scope and outcome, and whether it is the unit's
# first ({first}; NULL outside the units in scope, where no aggregate reads it).
FRAMED_SQL = f"""
SELECT c.*, {_SCOPE} AS sim_in_scope, {{first}} AS sim_first,
    u.unit_id AS sim_scope_unit, u.measured AS sim_measured, u.evaluated AS sim_evaluated,
    u.success_before AS sim_success_before, o.sim_escalation, o.sim_success_after
FROM {{source}} c CROSS JOIN _sim_cascade k
LEFT JOIN model_map mm ON mm.model = c.model AND mm.provider IS NOT DISTINCT FROM c.provider
LEFT JOIN _sim_units u ON u.unit_id = COALESCE(c.task_id, c.request_id)
LEFT JOIN (SELECT u.unit_id, {UNIT_OUTCOME} FROM _sim_units u) o ON o.unit_id = u.unit_id
"""
FIRST_SQL = "c.request_id = u.first_id"
FLAGS = (
    "sim_first, sim_scope_unit, sim_measured, sim_evaluated, sim_success_before, "
    "sim_escalation, sim_success_after"
)
NARROW = f"sim_side, sim_weight, sim_after_weight, sim_cost, {FLAGS}"


def rows_sql(source: str, mode: str, output_ratio: float) -> str:
    """Each request once with its stored price (weighted on the scenario's side by its
    escalation when in scope) and, on the scenario's side only, the cheap attempt of every
    in-scope request, priced at the cheaper model."""
    framed = FRAMED_SQL.replace("{source}", source)
    escalated = f"CASE WHEN sim_in_scope THEN {WEIGHT} * sim_escalation ELSE {WEIGHT} END"
    cheap_weight = WEIGHT if mode == "cascade" else f"{WEIGHT} * (1 - sim_escalation)"
    output = f"CAST(round(output_tokens * {output_ratio}) AS BIGINT)"
    cheap = repriced(
        f"(SELECT f.*, k.to_model FROM ({framed.replace('{first}', 'false')}) f "
        "CROSS JOIN _sim_cascade k WHERE f.sim_in_scope)",
        {
            "request_id": "request_id || '#cascade'",
            "provider": "NULL",
            "model": "to_model",
            "output_tokens": output,
            "reasoning_tokens": f"LEAST(CAST(round(reasoning_tokens * {output_ratio}) AS BIGINT), "
            f"{output})",
        },
        weight=cheap_weight,
        extra={flag: flag for flag in FLAGS.split(", ")},
    )
    kept = f"{', '.join(SOURCE_COLUMNS)}, {FLAGS}"
    return f"""
    SELECT {kept}, 'both' AS sim_side, {escalated} AS sim_after_weight
    FROM ({framed.replace("{first}", FIRST_SQL)})
    UNION ALL
    SELECT {kept}, 'after' AS sim_side, {WEIGHT} AS sim_after_weight FROM {cheap}
    """


def build(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    rows: str,
    keep: bool,
) -> None:
    select, _ = keyed(dims)
    columns = f"{', '.join(SOURCE_COLUMNS)}, {NARROW}" if keep else NARROW
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {TABLE} AS SELECT {select}{columns} FROM ({rows}) p",
        source.params + source.params,
    )


def next_source() -> str:
    """The scenario as a plan's next Source: every row of its side, with its weight there."""
    columns = [f"sim_after_weight AS {WEIGHT}" if c == WEIGHT else c for c in SOURCE_COLUMNS]
    return f"SELECT {', '.join(columns)} FROM {TABLE}"


def pick_pair(
    from_model: str | None, to_model: str | None, settings: Config
) -> CascadePair | str | None:
    """--from/--to when both are given; else the one `cascade:` pair of the config that agrees
    with whichever is given; None when no model is named anywhere; else why no pair fits."""
    if from_model and to_model:
        return CascadePair(from_model, to_model)
    matches = [
        pair
        for pair in settings.cascade
        if (not from_model or pair.from_model.lower() == from_model.lower())
        and (not to_model or pair.to_model.lower() == to_model.lower())
    ]
    if len(matches) == 1:
        return matches[0]
    where = settings.source or "costops.yaml"
    given = f"--from {from_model}" if from_model else f"--to {to_model}" if to_model else ""
    if matches:
        listed = "; ".join(f"{p.from_model} -> {p.to_model}" for p in matches)
        return f"{len(matches)} cascade pairs in {where} fit ({listed}): pass --from and --to"
    if given:
        return f"no cascade pair in {where} has {given}: pass --from MODEL and --to MODEL"
    return None


def _unit_metrics(success: str) -> str:
    first_eval = "p.sim_first AND p.sim_evaluated"
    return f"""
    sum(CASE WHEN {first_eval} AND p.{success} THEN 1 ELSE 0 END)
        / NULLIF(sum(CASE WHEN {first_eval} THEN 1 ELSE 0 END), 0) AS pass_rate_{{when}},
    money_sum(CASE WHEN p.sim_evaluated THEN p.cost * p.{WEIGHT} ELSE 0 END)
        / NULLIF(sum(CASE WHEN {first_eval} AND p.{success} THEN 1 ELSE 0 END), 0)
        AS cost_per_success_{{when}}
    """


BEFORE_EXTRAS = _unit_metrics("sim_success_before").replace("{when}", "before")
AFTER_EXTRAS = (
    _unit_metrics("sim_success_after").replace("{when}", "after")
    + """,
    sum(CASE WHEN p.sim_first AND p.sim_scope_unit IS NOT NULL THEN 1 ELSE 0 END) AS in_scope_units,
    sum(CASE WHEN p.sim_first AND p.sim_measured THEN 1 ELSE 0 END) AS measured_units,
    avg(CASE WHEN p.sim_first AND p.sim_scope_unit IS NOT NULL THEN p.sim_escalation END)
        AS escalation_rate
"""
)


def simulate_cascade(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    pair: CascadePair,
    mode: str = "cascade",
    escalation_rate: float | None = None,
    output_ratio: float = 1.0,
    keep: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[str]]:
    """Compare `source` with the cascade (or router) from pair.from_model to pair.to_model. With
    `keep`, the scenario keeps every column (see next_source)."""
    if mode not in ("cascade", "route"):
        raise UsageError(f"--mode {mode}: expected cascade or route")
    if escalation_rate is not None and not 0 <= escalation_rate <= 1:
        raise UsageError(f"--escalation-rate {escalation_rate}: expected a fraction from 0 to 1")
    if output_ratio <= 0:
        raise UsageError(f"--output-ratio {output_ratio}: expected a positive ratio")
    from_model, to_model = pair.from_model, pair.to_model
    add_model_names(con, [(None, from_model), (None, to_model)])
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _sim_cascade AS SELECT ? AS from_model, "
        "? AS to_model, (SELECT model_key FROM model_map WHERE provider IS NULL "
        "AND model = ?) AS from_key, (SELECT model_key FROM model_map WHERE provider "
        "IS NULL AND model = ?) AS to_key",
        [from_model, to_model, from_model, to_model],
    )
    con.execute(UNITS_SQL.replace("{source}", source.sql), source.params * 2)
    measured = con.execute(
        "SELECT count(*) FILTER (WHERE measured), "
        "avg(CASE WHEN measured THEN CASE WHEN shadow_passed THEN 0.0 ELSE 1.0 END END), "
        "count(*) FROM _sim_units"
    ).fetchone()
    assert measured is not None
    measured_units, measured_rate, scope_units = measured
    if not scope_units:
        raise UsageError(f"--from {from_model}: no requests in scope use this model")
    assumed = escalation_rate if escalation_rate is not None else measured_rate
    if assumed is None and measured_units < scope_units:
        raise UsageError(
            f"no shadow evals of {to_model} to measure escalation: pass --escalation-rate R"
        )
    assumed_sql = repr(float(assumed if assumed is not None else 0.0))
    rows_of = rows_sql(source.sql, mode, output_ratio).replace("$assumed", assumed_sql)
    build(con, source, dims, rows_of, keep)
    views(
        con,
        f"SELECT *, sim_cost AS cost FROM {TABLE} WHERE sim_side = 'both'",
        f"SELECT {select_list(con, TABLE, replace={WEIGHT: 'sim_after_weight'})}, "
        f"sim_cost AS cost FROM {TABLE}",
    )
    _, narrow = keyed(dims)
    totals, rows = compare(con, narrow, AFTER_EXTRAS, BEFORE_EXTRAS)
    warnings = []
    rate = totals.get("escalation_rate")
    if rate is not None and rate > ESCALATION_WARNING:
        warnings.append(
            f"{rate:.0%} of units escalate (over {ESCALATION_WARNING:.0%}): {to_model} looks "
            "too small for this work"
        )
    source_of_rate = (
        f"measured from shadow evals of {to_model} on {measured_units} of {scope_units} units"
        + (f"; the other units assume {assumed:.0%}" if measured_units < scope_units else "")
        if measured_units
        else f"assumed {assumed:.0%} (no shadow evals of {to_model})"
    )
    assumptions = {
        "mode": "cascade: every unit tries the cheaper model first; escalated units pay both calls"
        if mode == "cascade"
        else "route: a router sends each unit to one model; "
        "escalated units pay only the original"
        + (" (perfect-router bound)" if measured_units else ""),
        "from": from_model,
        "to": to_model,
        **({"pair": f"from {pair.origin}"} if pair.origin else {}),
        "escalation": source_of_rate,
        "output_ratio": f"the cheaper model writes {output_ratio:g}x the original output tokens",
        "tokens": "the cheaper attempt re-prices the same input and cache tokens at its rates",
        "quality": "pass rate after: measured units pass when the cheaper answer passed or the "
        "escalated original passed; assumed units keep their original verdict",
    }
    return totals, rows, assumptions, warnings
