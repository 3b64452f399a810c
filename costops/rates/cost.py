"""The priced_requests relation: requests joined to the price version in force at their time.

Costs are derived at query time (SPEC §2): the pricing tables are loaded into temporary tables on
each connection, and the view below prices every request; costops.analysis.cache keeps its
result in the store, keyed by the tables' content, so a price edit still re-prices history. The
SQL keeps to a portable subset (range join on effective_from/effective_to, CASE, COALESCE) so it
can be transpiled (SPEC §13).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import duckdb

from costops.errors import PricingError
from costops.rates.contracts import discount_rows
from costops.rates.tables import RATE_KEYS as RATE_COLUMNS
from costops.rates.tables import PricingTables

# Logged model name → pricing table entry. Glob patterns become LIKE patterns; the most
# specific pattern (longest literal part; a user's alias beats any pattern) wins, a same-provider
# table before another provider's, and a user's table before the packaged one. Two entries that
# tie are an error naming both (see AMBIGUOUS_SQL).
MODEL_MAP_SQL = """
CREATE OR REPLACE TEMP TABLE model_candidates AS
WITH names AS (
    SELECT DISTINCT provider, model FROM requests
    UNION
    SELECT DISTINCT NULL AS provider, model FROM evals WHERE model IS NOT NULL
    UNION
    SELECT DISTINCT provider, model FROM extra_models
)
SELECT n.provider, n.model, p.model_key,
       rank() OVER (
           PARTITION BY n.provider, n.model
           ORDER BY CASE WHEN lower(n.provider) = pm.provider THEN 0 ELSE 1 END,
                    p.literal_len DESC, pm.user_rank
       ) AS pick
FROM names n
JOIN price_patterns p ON lower(n.model) LIKE p.pattern ESCAPE '\\'
JOIN price_models pm ON pm.model_key = p.model_key;
CREATE OR REPLACE TEMP TABLE model_map AS
SELECT provider, model, min(model_key) AS model_key FROM model_candidates WHERE pick = 1
GROUP BY provider, model
"""

AMBIGUOUS_SQL = """
SELECT provider, model, list(DISTINCT model_key ORDER BY model_key)
FROM model_candidates WHERE pick = 1
GROUP BY provider, model HAVING count(DISTINCT model_key) > 1
ORDER BY model LIMIT 1
"""
ALIAS_LITERAL_LEN = 1_000_000  # an alias names the logged model exactly: it beats any pattern

PRICED_SELECT_SQL = """
WITH matched AS (
    SELECT r.*, mm.model_key,
           COALESCE(r.task_id, r.request_id) AS unit_id,
           r.input_tokens - r.cache_read_tokens - r.cache_write_5m_tokens
               - r.cache_write_1h_tokens AS uncached_input_tokens,
           (r.batch OR lower(COALESCE(r.service_tier, '')) = 'batch') AS is_batch
    FROM {source} r
    LEFT JOIN model_map mm
      ON mm.model = r.model AND mm.provider IS NOT DISTINCT FROM r.provider
),
versioned AS (
    SELECT m.*,
           v.effective_from AS price_effective_from,
           v.lc_threshold IS NOT NULL AND m.input_tokens > v.lc_threshold AS long_context,
           v.input, v.output, v.cache_read, v.cache_write_5m, v.cache_write_1h, v.reasoning,
           v.lc_input, v.lc_output, v.lc_cache_read, v.lc_cache_write_5m, v.lc_cache_write_1h,
           v.lc_reasoning, v.batch_multiplier, v.batch_stacks_with_cache, v.per_request,
           w.multiplier AS window_multiplier, w.input AS window_input,
           w.output AS window_output, w.cache_read AS window_cache_read,
           w.cache_write_5m AS window_cache_write_5m, w.cache_write_1h AS window_cache_write_1h,
           w.reasoning AS window_reasoning,
           t.tier AS tier_name, t.multiplier AS tier_multiplier, t.input AS tier_input,
           t.output AS tier_output,
           t.cache_read AS tier_cache_read, t.cache_write_5m AS tier_cache_write_5m,
           t.cache_write_1h AS tier_cache_write_1h, t.reasoning AS tier_reasoning,
           g.multiplier AS region_multiplier,
           COALESCE(d.discount, 0.0) AS contract_discount, d.contract
    FROM matched m
    LEFT JOIN price_versions v
      ON v.model_key = m.model_key
     AND m.ts >= v.effective_from
     AND (v.effective_to IS NULL OR m.ts < v.effective_to)
    LEFT JOIN price_tiers t
      ON t.model_key = v.model_key AND t.effective_from = v.effective_from
     AND t.tier = CASE WHEN m.is_batch THEN 'batch' ELSE lower(m.service_tier) END
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
costed AS (
    SELECT *,
        m_all * m_batch * uncached_input_tokens * r_input / 1e6 AS cost_input,
        m_all * m_batch_cache * cache_read_tokens * r_cache_read / 1e6 AS cost_cache_read,
        m_all * m_batch_cache * (cache_write_5m_tokens * r_cache_write_5m
                                 + cache_write_1h_tokens * r_cache_write_1h) / 1e6
            AS cost_cache_write,
        m_all * m_batch * ((output_tokens - reasoning_tokens) * r_output
                           + reasoning_tokens * r_reasoning) / 1e6 AS cost_output
    FROM rated
),
-- A call that used no tokens (an errored or expired batch line) costs nothing, priced or not.
effective AS (
    SELECT *,
        CASE WHEN input_tokens = 0 AND output_tokens = 0 THEN 0.0
             ELSE cost_input + cost_cache_read + cost_cache_write + cost_output
                  + COALESCE(per_request, 0.0) * (1.0 - contract_discount) END AS cost,
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
        "tier_name", "tier_multiplier", "window_multiplier", "region_multiplier",
        "m_all", "m_batch", "m_batch_cache",
    ]
)  # fmt: skip


def install_pricing(con: duckdb.DuckDBPyConnection, tables: PricingTables) -> str:
    """Load the pricing tables into temp tables and create model_map and priced_requests.
    Returns a fingerprint of the rates loaded, which changes whenever any price does."""
    _create_price_tables(con)
    models, patterns, versions, tiers, regions, windows = [], [], [], [], [], []
    for model in tables.models:
        models.append(
            (
                model.key,
                model.provider.lower(),
                model.id,
                0 if model.user else 1,
                model.min_cacheable_tokens,
            )
        )
        for pattern in model.match:
            like, literal_len = glob_to_like(pattern)
            patterns.append((model.key, like, literal_len))
        for v in model.versions:
            lc = v.long_context or {}
            versions.append(
                (
                    model.key,
                    v.effective_from,
                    v.effective_to,
                    *(v.rates[k] for k in RATE_COLUMNS),
                    lc.get("above_input_tokens"),
                    *(lc.get(k) for k in RATE_COLUMNS),
                    v.batch_multiplier,
                    v.batch_stacks_with_cache,
                    v.cache_storage_per_mtok_hour,
                    v.per_request,
                )
            )
            for tier, spec in v.service_tiers.items():
                tiers.append(
                    (
                        model.key,
                        v.effective_from,
                        tier,
                        spec.get("multiplier"),
                        *(spec.get(k) for k in RATE_COLUMNS),
                    )
                )
            for region, multiplier in v.regional_uplift.items():
                regions.append((model.key, v.effective_from, region, multiplier))
            for w in v.time_of_day:
                windows.append((model.key, v.effective_from, w["from"], w["to"], w["timezone"],
                                w["multiplier"], *(w[k] for k in RATE_COLUMNS)))  # fmt: skip
    for name, key in sorted(tables.aliases.items()):
        patterns.append((key, glob_to_like(name.replace("*", "").replace("?", ""))[0],
                         ALIAS_LITERAL_LEN))  # fmt: skip
    _insert(con, "price_models", models)
    _insert(con, "price_patterns", patterns)
    _insert(con, "price_versions", versions)
    _insert(con, "price_tiers", tiers)
    _insert(con, "price_regions", regions)
    _insert(con, "price_windows", windows)
    identities = [(m.key, m.provider, m.id) for m in tables.models]
    discounts = discount_rows(identities, tables.contracts)
    _insert(con, "price_discounts", discounts)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE extra_models (provider VARCHAR, model VARCHAR NOT NULL)"
    )
    _map_models(con)
    con.execute(PRICED_VIEW_SQL)
    loaded = repr((models, patterns, versions, tiers, regions, windows, discounts))
    return hashlib.sha256(loaded.encode()).hexdigest()


def add_model_names(con: duckdb.DuckDBPyConnection, names: list[tuple[str | None, str]]) -> None:
    """Make model names that no stored request uses (a cascade's candidate) priceable."""
    _insert(con, "extra_models", names)
    _map_models(con)


def _map_models(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MODEL_MAP_SQL)
    tie = con.execute(AMBIGUOUS_SQL).fetchone()
    if tie:
        provider, model, keys = tie
        raise PricingError(
            f"model {model!r}"
            + (f" (provider {provider})" if provider else "")
            + f" matches {' and '.join(keys)} equally; add an alias (aliases: in a --pricing "
            "table) or a more specific match pattern"
        )


def glob_to_like(pattern: str) -> tuple[str, int]:
    """A case-insensitive glob (`*`, `?`) as a LIKE pattern, and its literal length."""
    out = []
    literal = 0
    for char in pattern.lower():
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
            literal += 1
        else:
            out.append(char)
            literal += 1
    return "".join(out), literal


def _create_price_tables(con: duckdb.DuckDBPyConnection) -> None:
    rates = ", ".join(f"{k} DOUBLE" for k in RATE_COLUMNS)
    lc_rates = ", ".join(f"lc_{k} DOUBLE" for k in RATE_COLUMNS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_models (model_key VARCHAR, provider VARCHAR, "
        "model_id VARCHAR, user_rank INTEGER, min_cacheable_tokens BIGINT)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_patterns "
        "(model_key VARCHAR, pattern VARCHAR, literal_len INTEGER)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_versions (model_key VARCHAR, "
        f"effective_from TIMESTAMP, effective_to TIMESTAMP, {rates}, lc_threshold BIGINT, "
        f"{lc_rates}, batch_multiplier DOUBLE, batch_stacks_with_cache BOOLEAN, "
        "cache_storage_per_mtok_hour DOUBLE, per_request DOUBLE)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE price_tiers (model_key VARCHAR, effective_from TIMESTAMP, "
        f"tier VARCHAR, multiplier DOUBLE, {rates})"
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
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
