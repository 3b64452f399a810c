"""The priced_requests relation: requests joined to the price version in force at their time.

Costs are derived at query time (SPEC §2): the pricing tables are loaded into temporary tables,
and the view below prices every request; costops.analysis.cache keeps its result (and the loaded
tables) in the store, keyed by the pricing files' content and this code, so a price edit still
re-prices history while an analysis of a fresh cache loads no tables at all. The
SQL keeps to a portable subset (range join on effective_from/effective_to, CASE, COALESCE) so it
can be transpiled (SPEC §13).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import duckdb

from costops.engine import is_spark
from costops.rates.contracts import discount_rows
from costops.rates.match import MATCH_TABLES_SQL, map_models, matching_rows
from costops.rates.tables import RATE_KEYS as RATE_COLUMNS
from costops.rates.tables import PricingTables

PRICED_SELECT_SQL = """
WITH matched AS (
    SELECT r.*, COALESCE(nv.model_key, mm.model_key) AS model_key,
           nv.effective_from AS version_from,
           COALESCE(r.task_id, r.request_id) AS unit_id,
           r.input_tokens - r.cache_read_tokens - r.cache_write_5m_tokens
               - r.cache_write_1h_tokens AS uncached_input_tokens,
           (r.batch OR lower(COALESCE(r.service_tier, '')) = 'batch') AS is_batch
    FROM {source} r
    LEFT JOIN model_map mm
      ON mm.model = r.model AND mm.provider IS NOT DISTINCT FROM r.provider
    LEFT JOIN name_versions nv
      ON nv.model = r.model AND nv.provider IS NOT DISTINCT FROM r.provider
     AND r.ts >= nv.valid_from AND (nv.valid_to IS NULL OR r.ts < nv.valid_to)
),
versioned AS (
    SELECT m.*,
           v.effective_from AS price_effective_from,
           c.above_input_tokens IS NOT NULL AS long_context,
           v.input, v.output, v.cache_read, v.cache_write_5m, v.cache_write_1h, v.reasoning,
           c.input AS lc_input, c.output AS lc_output, c.cache_read AS lc_cache_read,
           c.cache_write_5m AS lc_cache_write_5m, c.cache_write_1h AS lc_cache_write_1h,
           c.reasoning AS lc_reasoning,
           v.batch_multiplier, v.batch_stacks_with_cache, v.per_request,
           w.multiplier AS window_multiplier, w.input AS window_input,
           w.output AS window_output, w.cache_read AS window_cache_read,
           w.cache_write_5m AS window_cache_write_5m, w.cache_write_1h AS window_cache_write_1h,
           w.reasoning AS window_reasoning,
           t.tier AS tier_name, t.multiplier AS tier_multiplier, t.input AS tier_input,
           t.output AS tier_output,
           t.cache_read AS tier_cache_read, t.cache_write_5m AS tier_cache_write_5m,
           t.cache_write_1h AS tier_cache_write_1h, t.reasoning AS tier_reasoning,
           g.multiplier AS region_multiplier,
           -- which price applied (a SKU price in FOCUS terms): the input-size threshold crossed
           -- (long-context or a service tier's own), the region and the time-of-day window
           greatest(c.above_input_tokens, t.above_input_tokens) AS price_above_input_tokens,
           g.region AS price_region, w.from_minute AS window_from_minute,
           w.to_minute AS window_to_minute, w.timezone AS window_timezone,
           COALESCE(d.discount, 0.0) AS contract_discount, d.contract
    FROM matched m
    LEFT JOIN price_versions v
      ON v.model_key = m.model_key AND v.effective_from = m.version_from
    -- the long-context tier the request's input crosses (the highest one): whole request
    LEFT JOIN price_context_tiers c
      ON c.model_key = v.model_key AND c.effective_from = v.effective_from
     AND m.input_tokens > c.above_input_tokens
     AND (c.next_above IS NULL OR m.input_tokens <= c.next_above)
    LEFT JOIN price_tiers t
      ON t.model_key = v.model_key AND t.effective_from = v.effective_from
     AND t.tier = CASE WHEN m.is_batch THEN 'batch' ELSE lower(m.service_tier) END
     AND m.input_tokens > COALESCE(t.above_input_tokens, -1)
     AND (t.next_above IS NULL OR m.input_tokens <= t.next_above)
    LEFT JOIN price_regions g
      ON g.model_key = v.model_key AND g.effective_from = v.effective_from
     AND g.region = lower(m.region)
    LEFT JOIN price_windows w
      ON w.model_key = v.model_key AND w.effective_from = v.effective_from
     AND CASE WHEN w.from_minute < w.to_minute
              THEN {local_minute} >= w.from_minute AND {local_minute} < w.to_minute
              ELSE {local_minute} >= w.from_minute OR {local_minute} < w.to_minute
         END
    LEFT JOIN price_discounts d
      ON d.model_key = m.model_key AND m.ts >= d.effective_from AND m.ts < d.effective_to
),
based AS (
    -- The version's rate for this request: a time-of-day window's explicit rate, else the
    -- long-context tier's (for the whole request) or the base rate.
    SELECT *,
        COALESCE(window_input, CASE WHEN long_context THEN lc_input ELSE input END) AS b_input,
        COALESCE(window_output, CASE WHEN long_context THEN lc_output ELSE output END)
            AS b_output,
        COALESCE(window_reasoning, CASE WHEN long_context THEN lc_reasoning ELSE reasoning END)
            AS b_reasoning,
        COALESCE(window_cache_read,
                 CASE WHEN long_context THEN lc_cache_read ELSE cache_read END) AS b_cache_read,
        COALESCE(window_cache_write_5m,
                 CASE WHEN long_context THEN lc_cache_write_5m ELSE cache_write_5m END)
            AS b_cache_write_5m,
        COALESCE(window_cache_write_1h,
                 CASE WHEN long_context THEN lc_cache_write_1h ELSE cache_write_1h END)
            AS b_cache_write_1h
    FROM versioned
),
rated AS (
    -- Per-token rates: an explicit service-tier (or batch) rate where the table has one, else
    -- the version's. Absent reasoning rates price as output, absent cache rates as input.
    SELECT *,
        COALESCE(tier_input, b_input) AS r_input,
        COALESCE(tier_output, b_output) AS r_output,
        COALESCE(tier_reasoning, tier_output, b_reasoning, b_output) AS r_reasoning,
        COALESCE(tier_cache_read, b_cache_read, tier_input, b_input) AS r_cache_read,
        COALESCE(tier_cache_write_5m, b_cache_write_5m, tier_input, b_input)
            AS r_cache_write_5m,
        COALESCE(tier_cache_write_1h, b_cache_write_1h, tier_input, b_input)
            AS r_cache_write_1h,
        COALESCE(tier_multiplier, 1.0) * COALESCE(region_multiplier, 1.0)
            * (1.0 - contract_discount) * COALESCE(window_multiplier, 1.0) AS m_all,
        -- explicit batch rates (a 'batch' tier row) replace the batch discount
        CASE WHEN is_batch AND tier_name IS NULL THEN COALESCE(batch_multiplier, 1.0)
             ELSE 1.0 END AS m_batch,
        CASE WHEN is_batch AND tier_name IS NULL AND batch_stacks_with_cache
             THEN COALESCE(batch_multiplier, 1.0) ELSE 1.0 END AS m_batch_cache
    FROM based
),
unit_priced AS (
    -- What this request paid per million tokens of each class, every multiplier and the
    -- contract discount applied (the contracted unit price; the list one is before the
    -- discount), and per request for a flat fee.
    SELECT *,
        m_all * m_batch * r_input AS unit_input,
        m_all * m_batch_cache * r_cache_read AS unit_cache_read,
        m_all * m_batch_cache * r_cache_write_5m AS unit_cache_write_5m,
        m_all * m_batch_cache * r_cache_write_1h AS unit_cache_write_1h,
        m_all * m_batch * r_output AS unit_output,
        m_all * m_batch * r_reasoning AS unit_reasoning,
        COALESCE(per_request, 0.0) * (1.0 - contract_discount) AS unit_request
    FROM rated
),
costed AS (
    SELECT *,
        uncached_input_tokens * unit_input / 1e6 AS cost_input,
        cache_read_tokens * unit_cache_read / 1e6 AS cost_cache_read,
        (cache_write_5m_tokens * unit_cache_write_5m
         + cache_write_1h_tokens * unit_cache_write_1h) / 1e6 AS cost_cache_write,
        ((output_tokens - reasoning_tokens) * unit_output
         + reasoning_tokens * unit_reasoning) / 1e6 AS cost_output
    FROM unit_priced
),
-- A call that used no tokens (an errored or expired batch line) costs nothing, priced or not.
effective AS (
    SELECT *,
        CASE WHEN input_tokens = 0 AND output_tokens = 0 THEN 0.0
             ELSE cost_input + cost_cache_read + cost_cache_write + cost_output
                  + unit_request END AS cost,
        input IS NOT NULL AS priced
    FROM costed
)
-- list_cost: the cost before any contract discount (a discount is always below 1)
SELECT *, cost / (1.0 - contract_discount) AS list_cost FROM effective
"""


# A request's minute of the day in a window's time zone (requests are stored in UTC).
LOCAL_MINUTE_SQL = (
    "(hour(timezone(w.timezone, timezone('UTC', m.ts))) * 60 "
    "+ minute(timezone(w.timezone, timezone('UTC', m.ts))))"
)
PRICED_SELECT_SQL = PRICED_SELECT_SQL.replace("{local_minute}", LOCAL_MINUTE_SQL)


def priced_select(source: str) -> str:
    """Price any relation with the requests table's columns (a what-if scenario, say) exactly as
    the stored requests are priced. `source` is a table name or a parenthesised query."""
    return PRICED_SELECT_SQL.replace("{source}", source)


PRICED_VIEW_SQL = "CREATE OR REPLACE TEMP VIEW priced_requests AS " + priced_select("requests")


# The rates behind a request's effective rates (r_*), multipliers and costs: what a stored or
# scenario table of priced requests leaves out (`SELECT * EXCLUDE (...)`) to stay narrow.
RAW_RATE_COLUMNS = ", ".join(
    [
        *(f"{prefix}{rate}" for prefix in ("", "lc_", "tier_", "window_", "b_")
          for rate in RATE_COLUMNS),
        "tier_multiplier", "window_multiplier", "region_multiplier",
        "m_all", "m_batch", "m_batch_cache",
    ]
)  # fmt: skip


# The tables the priced view and the simulations read once pricing is installed: what a cache
# build keeps beside the priced requests (extra_models, a cascade's names, starts empty).
PRICING_TABLES = (
    "price_models", "price_versions", "price_context_tiers", "price_tiers", "price_regions",
    "price_windows", "price_discounts", "price_patterns", "price_fallbacks", "provider_claims",
    "provider_aliases", "model_candidates", "model_map", "name_versions",
)  # fmt: skip

# What turns pricing files into the rows above besides the files: the code of this package.
_CODE_HASH = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(Path(__file__).parent.glob("*.py")))
    + (Path(__file__).parent.parent / "safe_yaml.py").read_bytes()
).hexdigest()


def pricing_fingerprint(content_hash: str) -> str:
    """A fingerprint of the rates an analysis prices with, from the pricing files' content hash
    (PricingSources.content_hash: every layer's files, contracts included) and the code that
    loads them: it changes whenever any loaded row could, and costs no parse to compute."""
    return hashlib.sha256(f"{content_hash}\0{_CODE_HASH}".encode()).hexdigest()


def install_pricing(con: duckdb.DuckDBPyConnection, tables: PricingTables) -> str:
    """Load the pricing tables into temp tables and create model_map and priced_requests.
    Returns the tables' fingerprint (pricing_fingerprint), which changes whenever any price
    does."""
    load_price_tables(con, tables)
    map_models(con)
    con.execute(PRICED_VIEW_SQL)
    return pricing_fingerprint(tables.content_hash)


def load_price_tables(con: duckdb.DuckDBPyConnection, tables: PricingTables) -> None:
    """The pricing tables as temp tables (price_models, price_versions, patterns, …)."""
    _create_price_tables(con)
    models, versions, context_tiers, tiers, regions, windows = [], [], [], [], [], []
    for model in tables.models:
        models.append((model.key, model.provider.lower(), model.id, -model.layer,
                       model.min_cacheable_tokens, model.position))  # fmt: skip
        for v in model.versions:
            versions.append(
                (
                    model.key,
                    v.effective_from,
                    v.effective_to,
                    *(v.rates[k] for k in RATE_COLUMNS),
                    v.batch_multiplier,
                    v.batch_stacks_with_cache,
                    v.cache_storage_per_mtok_hour,
                    v.per_request,
                )
            )
            thresholds = [int(t["above_input_tokens"]) for t in v.long_context or []]
            for index, lc_tier in enumerate(v.long_context or []):
                following = thresholds[index + 1] if index + 1 < len(thresholds) else None
                context_tiers.append((model.key, v.effective_from, thresholds[index], following,
                                      *(lc_tier.get(k) for k in RATE_COLUMNS)))  # fmt: skip
            for tier, spec in v.service_tiers.items():
                # the tier's base rates up to its first threshold, then each of its own tiers
                steps: list[dict[str, float | None]] = [{**spec, "above_input_tokens": None}]
                tier_multiplier = {"multiplier": spec.get("multiplier")}
                steps += [{**tier_multiplier, **step} for step in v.tier_context.get(tier, [])]
                for index, step in enumerate(steps):
                    next_step = steps[index + 1] if index + 1 < len(steps) else {}
                    tiers.append((model.key, v.effective_from, tier, step.get("multiplier"),
                                   *(step.get(k) for k in RATE_COLUMNS),
                                   step["above_input_tokens"],
                                   next_step.get("above_input_tokens")))  # fmt: skip
            for region, multiplier in v.regional_uplift.items():
                regions.append((model.key, v.effective_from, region, multiplier))
            for w in v.time_of_day:
                windows.append((model.key, v.effective_from, w["from"], w["to"], w["timezone"],
                                w["multiplier"], *(w[k] for k in RATE_COLUMNS)))  # fmt: skip
    matching = matching_rows(tables)
    identities = [(m.key, m.provider, m.id) for m in tables.models]
    discounts = discount_rows(identities, tables.contracts)
    loaded: dict[str, Sequence[tuple[Any, ...]]] = {
        "price_models": models,
        "price_versions": versions,
        "price_context_tiers": context_tiers,
        "price_tiers": tiers,
        "price_regions": regions,
        "price_windows": windows,
        "price_discounts": discounts,
        **matching,
    }
    for table, rows in loaded.items():
        _insert(con, table, rows)


def add_model_names(con: duckdb.DuckDBPyConnection, names: list[tuple[str | None, str]]) -> None:
    """Make model names that no stored request uses (a cascade's candidate) priceable."""
    if is_spark(con):  # names are matched in the local DuckDB that holds its pricing
        cast(Any, con).add_model_names(names)
        return
    _insert(con, "extra_models", names)
    map_models(con)


def _create_price_tables(con: duckdb.DuckDBPyConnection) -> None:
    rates = ", ".join(f"{k} DOUBLE" for k in RATE_COLUMNS)
    con.execute(MATCH_TABLES_SQL)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_models (model_key VARCHAR, provider VARCHAR, "
        "model_id VARCHAR, user_rank INTEGER, min_cacheable_tokens BIGINT, position INTEGER)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_versions (model_key VARCHAR, "
        f"effective_from TIMESTAMP, effective_to TIMESTAMP, {rates}, "
        "batch_multiplier DOUBLE, batch_stacks_with_cache BOOLEAN, "
        "cache_storage_per_mtok_hour DOUBLE, per_request DOUBLE)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_context_tiers (model_key VARCHAR, "
        "effective_from TIMESTAMP, above_input_tokens BIGINT, next_above BIGINT, "
        f"{rates})"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_tiers (model_key VARCHAR, effective_from TIMESTAMP, "
        f"tier VARCHAR, multiplier DOUBLE, {rates}, above_input_tokens BIGINT, "
        "next_above BIGINT)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_regions (model_key VARCHAR, "
        "effective_from TIMESTAMP, region VARCHAR, multiplier DOUBLE)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_windows (model_key VARCHAR, effective_from TIMESTAMP, "
        f"from_minute INTEGER, to_minute INTEGER, timezone VARCHAR, multiplier DOUBLE, {rates})"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_discounts (model_key VARCHAR, "
        "effective_from TIMESTAMP, effective_to TIMESTAMP, discount DOUBLE, contract VARCHAR)"
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """All rows in one statement, a list per column (unnested together): binding thousands of
    row parameters costs seconds, a few column lists milliseconds."""
    if not rows:
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    unnest = ", ".join("unnest(?)" for _ in columns)
    con.execute(f"INSERT INTO {table} SELECT {unnest}", columns)
