"""The one-pass simulations give the numbers the old formulation gave.

The reference below is simulate as it was before it read the priced store (b3b83ad): every lever
materialised its scenario's requests and priced them, and the baseline, from scratch through the
pricing SQL (`priced_select`). The new path keeps the stored prices, re-costs changed token
counts from the unit prices the store keeps (caching and output change no rate) and prices only
the requests whose rates change (batch, the cheaper model). The aggregates (EXTRAS_SQL, the
cascade's units and outcomes, `compare`) are shared: this file checks how scenarios are built
and priced. Every number must be equal — money to the last bit, counts exactly — except
caching's break_even_reads, an average of doubles whose last digits follow row order (they
differ between two runs of the old code on a million rows too).

Checked on a slice of the demo month and on random logs priced by a table with every rate rule
the claim "rates do not depend on how the input splits" must survive: long-context tiers on the
input total, a service tier's own rates and thresholds, batch multipliers with and without
stacking, explicit batch rates, regional uplift, a time-of-day window, a per-request fee, a
contract discount, cache storage, a model without cache rates and an unpriced one.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest

from costops.analysis.exact import money_difference
from costops.analysis.filters import Filters, parse_dimensions, parse_where, where_clause
from costops.analysis.session import analysis_session
from costops.analysis.simulate import batch, cascade, output
from costops.analysis.simulate.engine import WEIGHT, compare
from costops.analysis.simulate.runner import run as simulate
from costops.config import CascadePair
from costops.rates.cost import RAW_RATE_COLUMNS, add_model_names, priced_select
from costops.store.migrations import REQUEST_COLUMNS

ROOT = Path(__file__).parent.parent

# ---- the reference: every scenario priced from scratch (b3b83ad) ------------------------------


def ref_select(source: str, overrides: dict[str, str] | None = None, extra: str = "",
               weight: str = WEIGHT) -> str:  # fmt: skip
    overrides = overrides or {}
    columns = [f"{overrides[c]} AS {c}" if c in overrides else c for c in REQUEST_COLUMNS]
    tail = f", {extra}" if extra else ""
    return f"SELECT {', '.join(columns)}, {weight} AS {WEIGHT}{tail} FROM {source}"


def ref_price(con: duckdb.DuckDBPyConnection, source: str, into: str) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {into} AS "
        f"SELECT * EXCLUDE ({RAW_RATE_COLUMNS}) FROM ({priced_select(source)})"
    )


def ref_compare(con, dims, extras="", before_extras=""):
    """`compare` over the reference's priced tables."""
    con.execute("CREATE OR REPLACE TEMP VIEW _sim_before AS SELECT * FROM _ref_before")
    con.execute("CREATE OR REPLACE TEMP VIEW _sim_after AS SELECT * FROM _ref_after")
    return compare(con, dims, extras, before_extras)


REF_FLAGGED = """
WITH keyed AS (
    SELECT c.*, pm.min_cacheable_tokens
    FROM {source} c
    LEFT JOIN model_map mm ON mm.model = c.model AND mm.provider IS NOT DISTINCT FROM c.provider
    LEFT JOIN price_models pm ON pm.model_key = mm.model_key
),
flagged AS (
    SELECT *,
        prefix_hash IS NOT NULL AND COALESCE(prefix_tokens, 0) > 0 AS sim_has_prefix,
        COALESCE(prefix_tokens, 0) >= COALESCE(min_cacheable_tokens, 1024) AS sim_long_enough,
        cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens
            <= COALESCE(prefix_tokens, 0) AS prefix_only,
        (epoch_ms(ts) - lag(epoch_ms(ts)) OVER (PARTITION BY provider, model, workspace,
            prefix_hash ORDER BY ts, request_id)) / 1000.0 AS sim_gap_s
    FROM keyed
)
SELECT *,
    sim_has_prefix AND sim_long_enough AND prefix_only AND prefix_tokens <= input_tokens
        AS sim_cacheable,
    cache_read_tokens AS actual_cache_read,
    cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > 0 AS actual_cache_use
FROM flagged
"""


def ref_caching_scenario(ttl_seconds: float | None, ttl: str) -> str:
    within = "TRUE" if ttl_seconds is None else f"sim_gap_s <= {ttl_seconds}"
    hit = f"(sim_cacheable AND sim_gap_s IS NOT NULL AND {within})"
    write = f"(sim_cacheable AND NOT {hit})"
    overrides = {
        "cache_read_tokens": f"CASE WHEN {hit} THEN prefix_tokens "
        "WHEN sim_cacheable THEN 0 ELSE cache_read_tokens END",
        "cache_write_5m_tokens": f"CASE WHEN {write} AND '{ttl}' = '5m' THEN prefix_tokens "
        "WHEN sim_cacheable THEN 0 ELSE cache_write_5m_tokens END",
        "cache_write_1h_tokens": f"CASE WHEN {write} AND '{ttl}' = '1h' THEN prefix_tokens "
        "WHEN sim_cacheable THEN 0 ELSE cache_write_1h_tokens END",
    }
    extra = (f"sim_cacheable, {hit} AS sim_hit, sim_has_prefix, sim_long_enough, "
             f"actual_cache_read, actual_cache_use, '{ttl}' AS sim_ttl, "
             "concat_ws('|', provider, model, workspace, prefix_hash) AS sim_group, "
             "CAST(0 AS DOUBLE) AS sim_storage_cost")  # fmt: skip
    return "(" + ref_select("_ref_flagged", overrides, extra) + ")"


REF_STORAGE = """
WITH chained AS (
    SELECT request_id, sim_group, ts, prefix_tokens, model_key, price_effective_from,
        sum(CASE WHEN sim_hit THEN 0 ELSE 1 END) OVER (
            PARTITION BY sim_group ORDER BY ts, request_id ROWS UNBOUNDED PRECEDING) AS chain
    FROM {table}
    WHERE sim_cacheable AND model_key IN (
        SELECT model_key FROM price_versions WHERE cache_storage_per_mtok_hour IS NOT NULL)
),
held AS (
    SELECT arg_min(request_id, ts) AS request_id, any_value(model_key) AS model_key,
        any_value(price_effective_from) AS price_effective_from,
        max(prefix_tokens) AS prefix_tokens,
        (epoch(max(ts)) - epoch(min(ts)) + {ttl_s}) / 3600.0 AS hours
    FROM chained GROUP BY sim_group, chain
)
UPDATE {table} SET sim_storage_cost = s.storage, cost = {table}.cost + s.storage
FROM (
    SELECT h.request_id, h.hours * h.prefix_tokens / 1e6 * v.cache_storage_per_mtok_hour AS storage
    FROM held h JOIN price_versions v
      ON v.model_key = h.model_key AND v.effective_from = h.price_effective_from
    WHERE v.cache_storage_per_mtok_hour IS NOT NULL
) s
WHERE {table}.request_id = s.request_id
"""


REF_CACHING_EXTRAS = """
    sum(CASE WHEN p.sim_cacheable THEN 1 ELSE 0 END) AS cacheable_requests,
    sum(CASE WHEN p.sim_hit THEN 1 ELSE 0 END) AS reads,
    sum(CASE WHEN p.sim_cacheable AND NOT p.sim_hit THEN 1 ELSE 0 END) AS writes,
    sum(CASE WHEN p.sim_hit THEN 1 ELSE 0 END)
        / NULLIF(sum(CASE WHEN p.sim_cacheable THEN 1 ELSE 0 END), 0) AS hit_rate,
    sum(CASE WHEN p.sim_hit THEN 1 ELSE 0 END)
        / NULLIF(sum(CASE WHEN p.sim_cacheable AND NOT p.sim_hit THEN 1 ELSE 0 END), 0)
        AS reads_per_write,
    CASE WHEN sum(CASE WHEN p.sim_cacheable AND p.actual_cache_use THEN 1 ELSE 0 END) > 0
         THEN sum(CASE WHEN p.sim_cacheable AND p.actual_cache_read > 0 THEN 1 ELSE 0 END)
              / sum(CASE WHEN p.sim_cacheable THEN 1 ELSE 0 END) END AS actual_hit_rate,
    avg(CASE WHEN p.sim_cacheable THEN
        (CASE WHEN p.sim_ttl = '1h' THEN p.r_cache_write_1h ELSE p.r_cache_write_5m END
         - p.r_input) / NULLIF(p.r_input - p.r_cache_read, 0) END) AS break_even_reads,
    money_sum(p.sim_storage_cost * p.sim_weight) AS storage_cost,
    sum(CASE WHEN NOT p.sim_has_prefix THEN 1 ELSE 0 END) AS no_prefix_requests,
    sum(CASE WHEN p.sim_has_prefix AND NOT p.sim_long_enough THEN 1 ELSE 0 END)
        AS below_minimum_requests
"""


def ref_caching(con, source, dims, ttl):
    ref_price(con, source, "_ref_before")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ref_flagged AS "
                f"{REF_FLAGGED.replace('{source}', source)}")  # fmt: skip
    seconds = {"5m": 300, "1h": 3600}
    for name in ("5m", "1h") if ttl == "best" else (ttl,):
        ref_price(con, ref_caching_scenario(seconds[name], name), f"_ref_{name}")
        con.execute(REF_STORAGE.format(table=f"_ref_{name}", ttl_s=float(seconds[name])))
    if ttl == "best":
        con.execute("""
        CREATE OR REPLACE TEMP TABLE _ref_after AS
        WITH short AS (SELECT sim_group, money_sum(cost * sim_weight) AS cost
                       FROM _ref_5m GROUP BY 1),
        long AS (SELECT sim_group, money_sum(cost * sim_weight) AS cost FROM _ref_1h GROUP BY 1),
        choice AS (SELECT s.sim_group, s.cost <= l.cost AS short_wins
                   FROM short s JOIN long l ON l.sim_group IS NOT DISTINCT FROM s.sim_group)
        SELECT s.* FROM _ref_5m s JOIN choice c ON c.sim_group = s.sim_group WHERE c.short_wins
        UNION ALL
        SELECT h.* FROM _ref_1h h JOIN choice c ON c.sim_group = h.sim_group
        WHERE NOT c.short_wins
        """)
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ref_after AS SELECT * FROM _ref_{ttl}")
    totals, rows = ref_compare(con, dims, REF_CACHING_EXTRAS)
    ref_price(con, ref_caching_scenario(None, "5m"), "_ref_ceiling")
    keys = ", ".join(d.sql for d in dims)
    ceiling = {(): con.execute("SELECT money_sum(p.cost * p.sim_weight) FROM _ref_ceiling p")
               .fetchone()[0]}  # fmt: skip
    if dims:
        group = ", ".join(str(i + 1) for i in range(len(dims)))
        for *key, cost in con.execute(
            f"SELECT {keys}, money_sum(p.cost * p.sim_weight) FROM _ref_ceiling p GROUP BY {group}"
        ).fetchall():
            ceiling[tuple(key)] = cost
    for row in [totals, *rows]:
        key = tuple(row.get(d.name) for d in dims) if row is not totals else ()
        row["ceiling_cost"] = ceiling.get(key)
        row["ceiling_savings"] = (
            money_difference(row["baseline_cost"], row["ceiling_cost"])
            if row["baseline_cost"] is not None and row["ceiling_cost"] is not None else None
        )  # fmt: skip
    return totals, rows


REF_ELIGIBLE = (
    "(feature IN (SELECT feature FROM _sim_batch_features) "
    "AND NOT (batch OR lower(COALESCE(service_tier, '')) = 'batch'))"
)


def ref_batch(con, source, dims, features):
    batch.set_features(con, features)
    overrides = {
        "batch": f"CASE WHEN {REF_ELIGIBLE} THEN true ELSE batch END",
        "service_tier": f"CASE WHEN {REF_ELIGIBLE} THEN 'batch' ELSE service_tier END",
    }
    extra = f"{REF_ELIGIBLE} AS sim_eligible"
    ref_price(con, "(" + ref_select(source, extra=extra) + ")", "_ref_before")
    ref_price(con, "(" + ref_select(source, overrides, extra) + ")", "_ref_after")
    totals, rows = ref_compare(con, dims, before_extras=batch.BEFORE_EXTRAS)
    for row in [totals, *rows]:
        base = row.get("baseline_cost")
        row["eligible_share"] = row["eligible_cost"] / base if base else None
    return totals, rows


def ref_output(con, source, dims, trim_pct, cap):
    trimmed = output._trimmed(trim_pct)
    out = f"LEAST({trimmed}, {cap})" if cap is not None else trimmed
    overrides = {"output_tokens": out, "reasoning_tokens": f"LEAST(reasoning_tokens, {out})"}
    ref_price(con, source, "_ref_before")
    ref_price(con, "(" + ref_select(source, overrides) + ")", "_ref_after")
    extras = output.BEFORE_EXTRAS.replace("$cap", str(cap if cap is not None else 2**62))
    extras = extras.replace("$trimmed", output._trimmed(trim_pct, "p."))
    totals, rows = ref_compare(con, dims, before_extras=extras)
    if cap is None:
        for row in [totals, *rows]:
            row["outputs_cut"] = None
    return totals, rows


REF_UNITS = """
CREATE OR REPLACE TEMP TABLE _sim_units AS
WITH scoped AS (
    SELECT DISTINCT COALESCE(c.task_id, c.request_id) AS unit_id
    FROM {source} c CROSS JOIN _sim_cascade k
    LEFT JOIN model_map mm ON mm.model = c.model AND mm.provider IS NOT DISTINCT FROM c.provider
    WHERE (lower(c.model) = lower(k.from_model) OR mm.model_key = k.from_key)
),
latest AS (
    SELECT e.unit_id, e.passed, row_number() OVER (
        PARTITION BY e.unit_id, e.evaluator ORDER BY e.ts DESC NULLS LAST, e.run_id DESC,
        e.line_no DESC) AS pick
    FROM eval_targets e CROSS JOIN _sim_cascade k
    WHERE e.shadow AND (lower(e.model) = lower(k.to_model) OR e.eval_model_key = k.to_key)
),
shadow AS (SELECT unit_id, bool_and(passed) AS passed FROM latest WHERE pick = 1 GROUP BY unit_id)
SELECT s.unit_id, sh.unit_id IS NOT NULL AS measured, sh.passed AS shadow_passed,
    u.unit_id IS NOT NULL AS evaluated, COALESCE(u.success, false) AS success_before
FROM scoped s LEFT JOIN shadow sh ON sh.unit_id = s.unit_id
LEFT JOIN unit_status u ON u.unit_id = s.unit_id
"""


def ref_cascade(con, source, dims, pair, mode, rate, ratio):
    add_model_names(con, [(None, pair.from_model), (None, pair.to_model)])
    con.execute("CREATE OR REPLACE TEMP TABLE _sim_cascade AS SELECT ? AS from_model, "
                "? AS to_model, (SELECT model_key FROM model_map WHERE provider IS NULL "
                "AND model = ?) AS from_key, (SELECT model_key FROM model_map WHERE provider "
                "IS NULL AND model = ?) AS to_key",
                [pair.from_model, pair.to_model, pair.from_model, pair.to_model])  # fmt: skip
    con.execute(REF_UNITS.replace("{source}", source))
    measured = con.execute("SELECT avg(CASE WHEN measured THEN CASE WHEN shadow_passed "
                           "THEN 0.0 ELSE 1.0 END END) FROM _sim_units").fetchone()[0]  # fmt: skip
    assumed = repr(float(rate if rate is not None else measured or 0.0))
    framed = f"""(
        SELECT c.*, {cascade._SCOPE} AS sim_in_scope,
            row_number() OVER (PARTITION BY COALESCE(c.task_id, c.request_id)
                               ORDER BY c.ts, c.request_id) = 1 AS sim_first,
            u.unit_id AS sim_scope_unit, u.measured AS sim_measured, u.evaluated AS sim_evaluated,
            u.success_before AS sim_success_before, o.sim_escalation, o.sim_success_after
        FROM {source} c CROSS JOIN _sim_cascade k
        LEFT JOIN model_map mm ON mm.model = c.model AND mm.provider IS NOT DISTINCT FROM c.provider
        LEFT JOIN _sim_units u ON u.unit_id = COALESCE(c.task_id, c.request_id)
        LEFT JOIN (SELECT u.unit_id, {cascade.UNIT_OUTCOME} FROM _sim_units u) o
          ON o.unit_id = u.unit_id
    )""".replace("$assumed", assumed)
    keep = ("sim_scope_unit, sim_measured, sim_evaluated, sim_success_before, sim_escalation, "
            "sim_success_after")  # fmt: skip
    ref_price(con, "(" + ref_select(framed, extra=f"sim_first, {keep}") + ")", "_ref_before")
    original = ref_select(framed, extra=f"sim_first, {keep}", weight=f"CASE WHEN sim_in_scope "
                          f"THEN {WEIGHT} * sim_escalation ELSE {WEIGHT} END")  # fmt: skip
    out = f"CAST(round(output_tokens * {ratio}) AS BIGINT)"
    cheap = ref_select(
        f"(SELECT f.*, k.to_model FROM {framed} f CROSS JOIN _sim_cascade k WHERE f.sim_in_scope)",
        {"request_id": "request_id || '#cascade'", "provider": "NULL", "model": "to_model",
         "output_tokens": out,
         "reasoning_tokens": f"LEAST(CAST(round(reasoning_tokens * {ratio}) AS BIGINT), {out})"},
        extra=f"false AS sim_first, {keep}",
        weight=WEIGHT if mode == "cascade" else f"{WEIGHT} * (1 - sim_escalation)",
    )  # fmt: skip
    ref_price(con, f"({original} UNION ALL {cheap})", "_ref_after")
    return ref_compare(con, dims, cascade.AFTER_EXTRAS, cascade.BEFORE_EXTRAS)


def ref_input(con, filters: Filters) -> str:
    where, params = where_clause(filters)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _ref_input AS "
        f"{ref_select('priced_requests p', weight='1.0')} WHERE {where}",
        params,
    )
    return "_ref_input"


def ref_lever(con, name, source, dims, o):
    if name == "caching":
        return ref_caching(con, source, dims, o["ttl"])
    if name == "batch":
        return ref_batch(con, source, dims, o["features"])
    if name == "output":
        return ref_output(con, source, dims, o.get("trim") or 0.0, o.get("cap"))
    pair = CascadePair(o["from_model"], o["to_model"])
    return ref_cascade(con, source, dims, pair, o["mode"], o.get("escalation_rate"),
                       o.get("output_ratio") or 1.0)  # fmt: skip


def ref_plan(con, source, dims, o):
    current, steps = source, []
    for index, step in enumerate(o.get("order") or ("cascade", "caching", "output", "batch")):
        totals, _ = ref_lever(con, step, current, [], o)
        steps.append((step, totals["baseline_cost"], totals["simulated_cost"], totals["savings"]))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ref_plan_{index} AS "
                    f"{ref_select('_ref_after')}")  # fmt: skip
        current = f"_ref_plan_{index}"
    ref_price(con, source, "_ref_before")
    ref_price(con, current, "_ref_after")
    totals, rows = ref_compare(con, dims)
    return totals, rows, steps


# ---- the comparison ---------------------------------------------------------------------------


def same(new: dict[str, Any], old: dict[str, Any], where: str) -> None:
    for key, value in old.items():
        if key == "break_even_reads" and value is not None:
            assert new[key] == pytest.approx(value, rel=1e-12), f"{where}: {key}"
        else:
            assert new[key] == value, f"{where}: {key}: {new[key]!r} != {value!r}"


def check(con, name: str, by: str = "feature", where: tuple[str, ...] = (), **options) -> None:
    filters = Filters(where=parse_where(list(where)))
    dims = parse_dimensions(by, "UTC")
    setting = "SELECT current_setting('disabled_optimizers')"
    optimizers = con.execute(setting).fetchone()
    sim = simulate(con, name, dims, filters, **options)
    assert con.execute(setting).fetchone() == optimizers  # joins_as_written put it back
    source = ref_input(con, filters)
    label = f"{name} {options} {where}"
    if name == "plan":
        totals, rows, steps = ref_plan(con, source, dims, options)
        ran = [s for s in sim.steps if "skipped" not in s]
        assert [(s["step"], s["cost_before"], s["cost_after"], s["savings"]) for s in ran] == steps
    else:
        totals, rows = ref_lever(con, name, source, dims, options)
    same(sim.totals, totals, f"{label} totals")
    assert len(sim.rows) == len(rows), label
    for new, old in zip(sim.rows, rows, strict=True):
        same(new, old, f"{label} row {[old.get(d.name) for d in dims]}")


CASCADE = {"from_model": "hold", "to_model": "cheap", "escalation_rate": 0.25}


def ingest(run, db: str, logs: list[dict[str, Any]], evals: list[dict[str, Any]], tmp: Path):
    paths = [tmp / "logs.jsonl", tmp / "evals.jsonl"]
    for path, records in zip(paths, (logs, evals), strict=True):
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = run("ingest", *map(str, paths), "--db", db)
    assert result.code == 0, result.stderr


def test_the_demo_month_slice_simulates_as_before(run, db, tmp_path):
    with gzip.open(ROOT / "sample_logs" / "requests.jsonl.gz", "rt") as f:
        logs = [json.loads(line) for _, line in zip(range(1500), f, strict=False)]
    units = {r.get("task_id") or r["request_id"] for r in logs}
    with gzip.open(ROOT / "sample_logs" / "evals.jsonl.gz", "rt") as f:
        evals = [
            e for e in map(json.loads, f) if (e.get("task_id") or e.get("request_id")) in units
        ]
    ingest(run, db, logs, evals, tmp_path)
    with analysis_session(db) as con:
        check(con, "caching", by="workspace,model", ttl="best", where=("feature=support-agent",))
        check(con, "plan", ttl="5m", features=["support-agent"], trim=10.0, cap=None,
              from_model="claude-sonnet-4-6", to_model="claude-haiku-4-5", mode="cascade",
              escalation_rate=0.2)  # fmt: skip


# Every rule a rate can depend on, so that a scenario re-costed from stored unit prices would
# differ from one priced afresh if any rule read the split of the input.
TABLE = """\
provider: prov
defaults: {batch_multiplier: 0.5, batch_stacks_with_cache: true}
models:
  - id: hold
    min_cacheable_tokens: 1000
    versions:
      - effective_from: 2026-01-01
        input: 1.10
        output: 4.30
        reasoning: 3.70
        cache_read: 0.11
        cache_write_5m: 1.375
        cache_write_1h: 2.20
        per_request: 0.0003
        cache_storage_per_mtok_hour: 4.50
        long_context:
          - {above_input_tokens: 4000, input: 2.20, output: 6.45, cache_read: 0.22,
             cache_write_5m: 2.75, cache_write_1h: 4.40}
          - {above_input_tokens: 7000, input: 3.30, output: 8.60}
        regional_uplift: {eu: 1.1, apac: 1.07}
        service_tiers:
          priority: {multiplier: 1.8}
          flex: {input: 0.55, output: 2.15,
                 long_context: [{above_input_tokens: 5000, input: 0.90, output: 3.10}]}
        time_of_day: {from: "22:00", to: "06:00", timezone: Europe/Berlin, multiplier: 0.5}
      - effective_from: 2026-03-10
        input: 0.97
        output: 3.10
        cache_read: 0.097
        cache_write_5m: 1.2125
        cache_write_1h: 1.94
        long_context: null
        batch_rates: {input: 0.41}
        batch_stacks_with_cache: false
  - id: plain
    versions:
      - {effective_from: 2026-01-01, input: 0.70, output: 2.90}
  - id: cheap
    min_cacheable_tokens: 500
    versions:
      - {effective_from: 2026-01-01, input: 0.13, output: 0.53, cache_read: 0.013,
         cache_write_5m: 0.1625}
"""
CONTRACT = """\
contract: prov-agreement
terms:
  - {provider: prov, model: hold, effective_from: 2026-03-09T23:00:00, discount: 0.15}
"""
GAPS = (0, 0, 1, 299, 300, 301, 600, 3599, 3600, 3601, 7200)
# (provider, model, workspace, prefix_hash, prefix_tokens): the prefix groups requests fall in
GROUPS = (
    ("prov", "hold", "w1", "pA", 2400), ("prov", "hold", "w2", "pA", 2400),
    ("prov", "hold", "w1", "pB", 999), (None, "hold", None, "pA", 5000),
    ("prov", "plain", "w1", "pA", 2400), ("prov", "cheap", None, "pB", 600),
    ("prov", "mystery", "w1", "pA", 2400),
)  # fmt: skip


def random_logs(seed: int, n: int = 260) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Requests of a few prefix groups, each with its own clock stepping by gaps at and around
    both TTLs, across the 2026-03-10 version change, the contract's start and the time-of-day
    window; evals on some units, most of them shadow evals of `cheap`."""
    rng = random.Random(seed)
    clocks = [1773079200 + 600 * i for i in range(len(GROUPS))]  # from 2026-03-09T18:00:00Z
    logs, evals = [], []
    for i in range(n):
        g = rng.randrange(len(GROUPS))
        clocks[g] += rng.choice(GAPS) if rng.random() < 0.9 else rng.randrange(30_000)
        provider, model, workspace, prefix_hash, prefix = GROUPS[g]
        tokens = prefix + rng.choice((0, 10, 1500, 3000, 5500, 8000))
        request = {
            "request_id": f"r{i:03d}", "provider": provider, "model": model,
            "timestamp": _iso(clocks[g]), "feature": rng.choice("ABC"), "workspace": workspace,
            "task_id": rng.choice((None, f"t{i % 23}")), "input_tokens": tokens,
            "output_tokens": rng.choice((0, 7, 250, 1800)), "max_tokens": rng.choice((None, 300)),
            "finish_reason": rng.choice(("stop", "length", "max_tokens", None)),
            "service_tier": rng.choice((None, None, "priority", "flex", "batch")),
            "batch": rng.random() < 0.1, "region": rng.choice((None, "eu", "apac")),
        }  # fmt: skip
        if rng.random() < 0.9:
            request["prefix_hash"] = prefix_hash
            request["prefix_tokens"] = prefix + rng.choice((0, 0, 0, 1, -1))
        logged = rng.random()
        if logged < 0.1:
            request["cache_read_tokens"] = prefix
        elif logged < 0.15:
            request["cache_write_5m_tokens"] = prefix
        elif logged < 0.2:  # conversation caching: more than the prefix
            request["cache_read_tokens"] = min(tokens, prefix + 5)
        if request["output_tokens"] and rng.random() < 0.3:
            request["reasoning_tokens"] = request["output_tokens"] // 2
        if rng.random() < 0.04:  # a call that used no tokens
            request.update(input_tokens=0, output_tokens=0, prefix_tokens=None)
        logs.append(request)
        if rng.random() < 0.4:
            unit = {"task_id": request["task_id"]} if request["task_id"] else {
                "request_id": request["request_id"]}  # fmt: skip
            shadow = {"model": "cheap"} if rng.random() < 0.6 else {}
            evals.append({**unit, "evaluator": "judge", "passed": rng.random() < 0.7,
                          "timestamp": request["timestamp"], **shadow})  # fmt: skip
    return logs, evals


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_random_logs_simulate_as_before(run, db, tmp_path):
    pricing = tmp_path / "pricing"
    pricing.mkdir()
    (pricing / "prov.yaml").write_text(TABLE)
    (pricing / "contract.yaml").write_text(CONTRACT)
    ingest(run, db, *random_logs(seed=7), tmp_path)
    with analysis_session(db, [str(pricing)]) as con:
        check(con, "caching", by="workspace,model", ttl="best")
        check(con, "caching", ttl="1h", where=("feature=A", "feature=B"))
        check(con, "batch", by="feature,service_tier", features=["A", "B"])
        check(con, "output", trim=35.0, cap=200)
        check(con, "cascade", by="model", mode="route", output_ratio=1.5, **CASCADE)
        check(con, "plan", ttl="5m", features=["A", "C"], trim=25.0, cap=None, mode="cascade",
              order=["batch", "output", "caching", "cascade"], **CASCADE)  # fmt: skip
