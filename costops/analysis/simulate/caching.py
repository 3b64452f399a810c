"""Prompt caching on the team's own traffic (SPEC §8, caching).

Requests are grouped by (provider, model, workspace, prefix_hash) in time order. A request is a
hit when the previous request of its group came within the TTL (a gap equal to the TTL is still a
hit; every request refreshes the TTL), else a write. Prefixes shorter than the model's
min_cacheable_tokens, and requests with no prefix identity, are not cacheable. The prefix part of
the input is re-priced at read/write rates; the rest is unchanged. Requests that already cached
more than their prefix (conversation caching) keep their logged behaviour.
"""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.exact import money_difference
from costops.analysis.filters import Dimension
from costops.analysis.simulate.engine import AFTER, BEFORE, WEIGHT, compare, price, select_requests
from costops.errors import UsageError
from costops.render.words import count

TTL_SECONDS = {"5m": 300, "1h": 3600}
DEFAULT_MIN_CACHEABLE = 1024
GROUP = "provider, model, workspace, prefix_hash"

# Flags per request: identity, minimum length, and the gap to the previous request of its group.
FLAGGED_SQL = f"""
WITH keyed AS (
    SELECT c.*, pm.min_cacheable_tokens
    FROM {{source}} c
    LEFT JOIN model_map mm ON mm.model = c.model AND mm.provider IS NOT DISTINCT FROM c.provider
    LEFT JOIN price_models pm ON pm.model_key = mm.model_key
),
flagged AS (
    SELECT *,
        prefix_hash IS NOT NULL AND COALESCE(prefix_tokens, 0) > 0 AS sim_has_prefix,
        COALESCE(prefix_tokens, 0) >= COALESCE(min_cacheable_tokens, {DEFAULT_MIN_CACHEABLE})
            AS sim_long_enough,
        cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens
            <= COALESCE(prefix_tokens, 0) AS prefix_only,
        (epoch_ms(ts) - lag(epoch_ms(ts)) OVER (
            PARTITION BY {GROUP} ORDER BY ts, request_id)) / 1000.0 AS sim_gap_s
    FROM keyed
)
SELECT *,
    sim_has_prefix AND sim_long_enough AND prefix_only AND prefix_tokens <= input_tokens
        AS sim_cacheable,
    cache_read_tokens AS actual_cache_read,
    cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > 0 AS actual_cache_use
FROM flagged
"""


def flag(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """Flag `source`'s requests once (the gap to the previous request of their prefix group is
    a window over every request); each TTL's scenario reads the flags."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _sim_flagged AS {FLAGGED_SQL.replace('{source}', source)}"
    )
    return "_sim_flagged"


def scenario_sql(flagged: str, ttl_seconds: float | None, ttl: str) -> str:
    """The flagged requests with simulated cache reads/writes on their prefix. ttl_seconds None:
    every repeat of a prefix is a hit (the ceiling)."""
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
    extra = (
        f"sim_cacheable, {hit} AS sim_hit, sim_has_prefix, sim_long_enough, "
        f"actual_cache_read, actual_cache_use, '{ttl}' AS sim_ttl, {GROUP_KEY} AS sim_group, "
        "CAST(0 AS DOUBLE) AS sim_storage_cost"
    )
    return "(" + select_requests(flagged, overrides, extra) + ")"


GROUP_KEY = "concat_ws('|', provider, model, workspace, prefix_hash)"

EXTRAS_SQL = """
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


def simulate_caching(
    con: duckdb.DuckDBPyConnection, source: str, dims: list[Dimension], ttl: str
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Price `source` as logged (BEFORE) and with simulated caching (AFTER); add the ceiling
    and a verdict per row. Returns totals, rows, assumptions."""
    if ttl not in ("5m", "1h", "best"):
        raise UsageError(f"--ttl {ttl}: expected 5m, 1h or best")
    price(con, source, BEFORE)
    flagged = flag(con, source)
    if ttl == "best":
        _best_of_both(con, flagged)
    else:
        price(con, scenario_sql(flagged, TTL_SECONDS[ttl], ttl), AFTER)
        add_storage(con, AFTER, TTL_SECONDS[ttl])
    totals, rows = compare(con, dims, EXTRAS_SQL)
    ceiling = _ceiling(con, flagged, dims)
    for row in [totals, *rows]:
        key = tuple(row.get(d.name) for d in dims) if row is not totals else ()
        row["ceiling_cost"] = ceiling.get(key)
        row["ceiling_savings"] = (
            money_difference(row["baseline_cost"], row["ceiling_cost"])
            if row["baseline_cost"] is not None and row["ceiling_cost"] is not None
            else None
        )
        row["verdict"] = _verdict(row)
    assumptions = {
        "ttl": ttl,
        "rule": "a request is a hit when the previous request with the same provider, model, "
        "workspace and prefix came within the TTL (equal counts); every request refreshes it",
        "prefix": "only the prefix part of the input is re-priced at cache read/write rates",
        "min_cacheable_tokens": f"per model from the pricing tables ({DEFAULT_MIN_CACHEABLE} "
        "when a table has none)",
        "baseline": "the logged behaviour, cache use included",
        "storage": "billed where the pricing table has cache_storage_per_mtok_hour: each "
        "entry from its write to its last hit plus the TTL (the ceiling leaves storage out)",
        "not_modelled": "provider-side evictions before the TTL",
        "not_simulated": f"{count(totals['no_prefix_requests'], 'request')} without a prefix "
        f"identity, {totals['below_minimum_requests']:,} with a prefix below the model's minimum",
        "hint": "requests without prefix_hash/prefix_tokens cannot be simulated: log a hash and "
        "the token count of the stable prompt prefix (system prompt + tools)",
    }
    for table in (flagged, "_sim_5m", "_sim_1h", "_sim_ceiling"):  # free memory for what follows
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return totals, rows, assumptions


# Providers that bill cache storage (cache_storage_per_mtok_hour): each cache entry is held from
# its write until its last hit plus the TTL; the write request carries the storage cost.
STORAGE_SQL = """
WITH chained AS (
    SELECT request_id, sim_group, ts, prefix_tokens, model_key, price_effective_from,
        sum(CASE WHEN sim_hit THEN 0 ELSE 1 END) OVER (
            PARTITION BY sim_group ORDER BY ts, request_id ROWS UNBOUNDED PRECEDING) AS chain
    FROM {table}
    WHERE sim_cacheable
      AND model_key IN (SELECT model_key FROM price_versions
                        WHERE cache_storage_per_mtok_hour IS NOT NULL)
),
held AS (
    SELECT arg_min(request_id, ts) AS request_id, any_value(model_key) AS model_key,
        any_value(price_effective_from) AS price_effective_from,
        max(prefix_tokens) AS prefix_tokens,
        (epoch(max(ts)) - epoch(min(ts)) + {ttl_s}) / 3600.0 AS hours
    FROM chained GROUP BY sim_group, chain
)
UPDATE {table} SET sim_storage_cost = s.storage,
    cost = {table}.cost + s.storage
FROM (
    SELECT h.request_id, h.hours * h.prefix_tokens / 1e6 * v.cache_storage_per_mtok_hour AS storage
    FROM held h JOIN price_versions v
      ON v.model_key = h.model_key AND v.effective_from = h.price_effective_from
    WHERE v.cache_storage_per_mtok_hour IS NOT NULL
) s
WHERE {table}.request_id = s.request_id
"""


def add_storage(con: duckdb.DuckDBPyConnection, table: str, ttl_seconds: float) -> None:
    """Add cache storage to the simulated cost where the pricing table bills it (a no-op
    update when no model does)."""
    con.execute(STORAGE_SQL.format(table=table, ttl_s=float(ttl_seconds)))


def _best_of_both(con: duckdb.DuckDBPyConnection, flagged: str) -> None:
    """Per prefix group, whichever TTL is cheaper."""
    for ttl, table in (("5m", "_sim_5m"), ("1h", "_sim_1h")):
        price(con, scenario_sql(flagged, TTL_SECONDS[ttl], ttl), table)
        add_storage(con, table, TTL_SECONDS[ttl])
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {AFTER} AS
    WITH short AS (SELECT sim_group, money_sum(cost * {WEIGHT}) AS cost FROM _sim_5m GROUP BY 1),
    long AS (SELECT sim_group, money_sum(cost * {WEIGHT}) AS cost FROM _sim_1h GROUP BY 1),
    -- per group sums, compared group by group (never a join of the two scenarios' requests)
    choice AS (
        SELECT s.sim_group, s.cost <= l.cost AS short_wins
        FROM short s JOIN long l ON l.sim_group IS NOT DISTINCT FROM s.sim_group
    )
    SELECT s.* FROM _sim_5m s JOIN choice c ON c.sim_group = s.sim_group WHERE c.short_wins
    UNION ALL
    SELECT h.* FROM _sim_1h h JOIN choice c ON c.sim_group = h.sim_group WHERE NOT c.short_wins
    """)


def _ceiling(
    con: duckdb.DuckDBPyConnection, flagged: str, dims: list[Dimension]
) -> dict[tuple[Any, ...], float | None]:
    """Cost if every repeat of a prefix were a hit, per row key (and () for the total)."""
    price(con, scenario_sql(flagged, None, "5m"), "_sim_ceiling")
    keys = ", ".join(d.sql for d in dims)
    total = con.execute(f"SELECT money_sum(p.cost * p.{WEIGHT}) FROM _sim_ceiling p").fetchone()
    out: dict[tuple[Any, ...], float | None] = {(): total[0] if total else None}
    if dims:
        group = ", ".join(str(i + 1) for i in range(len(dims)))
        for *key, cost in con.execute(
            f"SELECT {keys}, money_sum(p.cost * p.{WEIGHT}) FROM _sim_ceiling p GROUP BY {group}"
        ).fetchall():
            out[tuple(key)] = cost
    return out


def _verdict(row: dict[str, Any]) -> str:
    if not row.get("cacheable_requests"):
        return "no data"
    savings, baseline = row.get("savings") or 0.0, row.get("baseline_cost") or 0.0
    if abs(savings) <= 1e-6 * max(baseline, 1e-9):  # the logs already cache like this
        return "already caching" if row.get("actual_hit_rate") is not None else "no change"
    return "cache" if savings > 0 else "don't cache"
